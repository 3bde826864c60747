import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'fs';
import { Agent, request } from 'https';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { Yaml } from 'cdk8s';
import { run, RunResult } from '../e2e/exec';
import { describeWithPrerequisites } from '../util/binaries';
import { CLUSTERS_FILE_ENV, KubeCluster, kubeVersions, missingKubePrerequisites, runningClusters } from './versions';

/** An API server answer: status, parsed body and every `Warning` header's text. */
export interface KubeResponse {
  readonly status: number;
  readonly body: any;
  readonly warnings: string[];
}

/** Options of `KubeClient.request()`. */
export interface KubeRequestOptions {
  readonly body?: unknown;
  /** e.g. `application/strategic-merge-patch+json` for PATCH. */
  readonly contentType?: string;
  /** Extra request headers, e.g. `Audit-ID`. */
  readonly headers?: Record<string, string>;
}

/** A minimal REST client of one test cluster, as the admin, keeping its connections alive. */
export class KubeClient {
  private readonly agent: Agent;

  constructor(public readonly cluster: KubeCluster) {
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: 8,
      ca: readFileSync(cluster.caFile),
      cert: readFileSync(cluster.clientCertFile),
      key: readFileSync(cluster.clientKeyFile),
    });
  }

  public request(method: string, path: string, options: KubeRequestOptions = {}): Promise<KubeResponse> {
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    return new Promise((resolve, reject) => {
      const req = request(`${this.cluster.server}${path}`, {
        method,
        agent: this.agent,
        timeout: 60_000,
        headers: {
          'Accept': 'application/json',
          ...options.headers,
          ...(payload ? { 'Content-Type': options.contentType ?? 'application/json', 'Content-Length': payload.length } : {}),
        },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let body: any = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Not JSON (e.g. /readyz).
          }
          resolve({ status: res.statusCode ?? 0, body, warnings: warningTexts(res.rawHeaders) });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Like `request()`, but throws unless the status is 2xx. */
  public async expectOk(method: string, path: string, options: KubeRequestOptions = {}): Promise<KubeResponse> {
    const response = await this.request(method, path, options);
    if (response.status < 200 || response.status > 299) {
      throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
    }
    return response;
  }

  /**
   * Creates the namespace (with extra labels) unless it exists, and waits until it is active: a
   * namespace an earlier test file deleted may still be terminating, and refuses new objects.
   */
  public async ensureNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
    await this.waitFor(`namespace ${name} to be active`, async () => {
      const response = await this.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } } });
      if (response.status !== 201 && response.status !== 409) throw new Error(`creating namespace ${name}: ${JSON.stringify(response.body)}`);
      const current = await this.request('GET', `/api/v1/namespaces/${name}`);
      return current.status === 200 && current.body.status?.phase === 'Active';
    }, 120_000);
  }

  /** A token of a ServiceAccount from the TokenRequest API, as the kubelet would mount it. */
  public async serviceAccountToken(namespace: string, name: string, expirationSeconds = 600): Promise<string> {
    const response = await this.expectOk('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } },
    });
    return response.body.status.token;
  }

  /** Applies manifests with `kubectl apply --server-side`; throws on any error. */
  public async applyServerSide(manifests: readonly unknown[], fieldManager = 'cdk8s-trusted-registry'): Promise<void> {
    const result = await this.kubectl(['apply', '--server-side', '--field-manager', fieldManager, '-f', writeManifests(manifests)]);
    if (result.code !== 0) throw new Error(`kubectl apply --server-side failed: ${result.stderr}`);
  }

  /** Polls until `check` holds, or throws naming `what`. */
  public async waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
  }

  /** Runs this version's kubectl against the cluster. */
  public kubectl(args: readonly string[], timeoutMs = 120_000): Promise<RunResult> {
    return run(this.cluster.kubectl, ['--kubeconfig', this.cluster.kubeconfig, ...args], {
      timeoutMs,
      // kubectl's own cache and config stay out of the user's home.
      env: { PATH: process.env.PATH ?? '', HOME: join(dirname(this.cluster.kubeconfig), 'kubectl-home') },
    });
  }

  public close(): void {
    this.agent.destroy();
  }
}

/** `299 - "text"` warning headers, one entry per header (Node joins repeated headers otherwise). */
function warningTexts(rawHeaders: string[]): string[] {
  const warnings: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() !== 'warning') continue;
    const match = /^\d{3} \S+ "((?:[^"\\]|\\.)*)"/.exec(rawHeaders[i + 1]);
    warnings.push(match ? match[1].replace(/\\(.)/g, '$1') : rawHeaders[i + 1]);
  }
  return warnings;
}

/**
 * Request headers that make the admin's request the request of `username` (e.g.
 * `system:serviceaccount:<ns>:<name>`): the server authorizes and admits it as that user, and
 * adds a ServiceAccount's groups by itself (system:serviceaccounts, system:serviceaccounts:<ns>).
 */
export function impersonating(username: string): Record<string, string> {
  return { 'Impersonate-User': username };
}

/** The REST path of a collection: `/api/v1/namespaces/<ns>/pods`, `/apis/apps/v1/namespaces/<ns>/deployments`. */
export function collectionPath(resource: { group: string; version: string; resource: string }, namespace?: string): string {
  const base = resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  return `${base}${namespace ? `/namespaces/${namespace}` : ''}/${resource.resource}`;
}

/**
 * One `describe` per running cluster (one per Kubernetes version). Without clusters the suite is
 * skipped naming what to install or build, or fails under E2E_REQUIRED=1.
 */
export function describeWithKube(name: string, body: (cluster: KubeCluster) => void): void {
  const clusters = runningClusters();
  let missing: string[] = [];
  if (clusters.length === 0) {
    missing = missingKubePrerequisites(kubeVersions());
    if (missing.length === 0) {
      missing = [`the control planes Jest's globalSetup (test/kube/global-setup.ts) starts; ${CLUSTERS_FILE_ENV} is unset, so it did not run`];
    }
  }
  describeWithPrerequisites(name, missing, () => {
    describe.each(clusters.map((cluster) => [cluster.version, cluster] as const))('Kubernetes v%s', (_version, cluster) => body(cluster));
  });
}

/**
 * Gives the calling test file the cluster to itself from `beforeAll` to `afterAll`: the files of
 * the tier bind cluster-wide admission policies, which would judge each other's requests if two
 * ran at once in parallel Jest workers.
 */
export function useExclusiveCluster(cluster: KubeCluster): KubeClient {
  const client = new KubeClient(cluster);
  const lockFile = join(dirname(cluster.kubeconfig), 'tests.lock');
  beforeAll(async () => {
    const deadline = Date.now() + 30 * 60_000;
    for (;;) {
      try {
        closeSync(openSync(lockFile, 'wx'));
        writeFileSync(lockFile, String(process.pid));
        return;
      } catch {
        const holder = Number(readFileSync(lockFile, 'utf-8') || '0');
        // A dead holder, or this very process (Jest runs files one after the other in one
        // process, so a lock it still holds was left by a file that has finished).
        if (holder > 0 && (holder === process.pid || !processAlive(holder))) unlinkSync(lockFile);
        if (Date.now() > deadline) throw new Error(`${lockFile} held by ${holder} for 30 minutes`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }, 31 * 60_000);
  afterAll(() => {
    client.close();
    rmSync(lockFile, { force: true });
  });
  return client;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes manifests as one multi-document YAML file in a fresh temporary directory, with the
 * serializer `cdk8s synth` uses (YAML 1.1, so e.g. the string "off" is quoted: Go's YAML parser
 * would read a bare off as a boolean).
 */
export function writeManifests(manifests: readonly unknown[], name = 'manifests.yaml'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'kube-manifests-')), name);
  writeFileSync(file, Yaml.stringify(...manifests));
  return file;
}
