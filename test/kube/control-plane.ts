import { ChildProcess, spawn } from 'child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { request } from 'https';
import { join } from 'path';
import { runChecked } from '../e2e/exec';
import { freeLoopbackPort } from '../e2e/registry-process';
import { KubeCluster, kubeBinDir } from './versions';

const OPENSSL_TIMEOUT_MS = 30_000;
/** Cold start of etcd + kube-apiserver (post-start hooks, RBAC bootstrap) on 2 busy cores. */
const READY_TIMEOUT_MS = 180_000;
/**
 * The Service range: a documentation range (RFC 5737), so no ClusterIP the tiers allocate can be
 * an address anywhere else; the node tier routes it only inside its own network namespace.
 */
export const SERVICE_CIDR = '203.0.113.0/24';
/** The first address of SERVICE_CIDR, which the API server gives the `kubernetes` Service. */
const KUBERNETES_SERVICE_IP = '203.0.113.1';
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** Audit policy: the request metadata (and so the policy's audit annotations) of every write the policy matches. */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete]
    resources:
      - group: ""
        resources: [pods, pods/*, replicationcontrollers]
      - group: apps
      - group: batch
  - level: None
`;

/** One component process and where it logs. */
interface Component {
  readonly name: string;
  readonly process: ChildProcess;
  readonly logFile: string;
}

/** What `ControlPlane.start()` needs. */
export interface ControlPlaneOptions {
  readonly version: string;
  /** A fresh directory the control plane owns (certificates, etcd data, logs); removed by `stop()`. */
  readonly workDir: string;
  /** Kept after `stop()` for post-mortems. */
  readonly keepWorkDir?: boolean;
}

/**
 * A real etcd, kube-apiserver and kube-controller-manager of one Kubernetes version on 127.0.0.1,
 * with certificates made for it: RBAC (and Node) authorization, the default admission plugins
 * (ValidatingAdmissionPolicy, PodSecurity, ServiceAccount, ...), service-account token signing,
 * audit logging, and every port chosen free. `stop()` kills the processes by PID; a watchdog
 * shell kills them too if the process that started them dies without stopping them.
 */
export class ControlPlane {
  public static async start(options: ControlPlaneOptions): Promise<ControlPlane> {
    const plane = new ControlPlane(options);
    try {
      await plane.boot();
    } catch (error) {
      const logs = plane.components.map((c) => `--- ${c.name} (${c.logFile}), last lines:\n${tail(c.logFile, 25)}`).join('\n');
      plane.stop();
      throw new Error(`Kubernetes v${options.version} control plane did not start: ${(error as Error).message}\n${logs}`);
    }
    return plane;
  }

  public readonly version: string;
  public readonly minor: number;
  private readonly workDir: string;
  private readonly binDir: string;
  private readonly components: Component[] = [];
  private watchdog?: ChildProcess;
  private clusterInfo?: KubeCluster;

  private constructor(private readonly options: ControlPlaneOptions) {
    this.version = options.version;
    this.minor = Number(options.version.split('.')[1]);
    this.workDir = options.workDir;
    this.binDir = kubeBinDir(options.version);
  }

  /** What the test files need to reach this control plane. */
  public get cluster(): KubeCluster {
    if (!this.clusterInfo) throw new Error('control plane not started');
    return this.clusterInfo;
  }

  /** Kills every component (SIGKILL, by PID) and the watchdog; removes the work directory unless kept. */
  public stop(): void {
    for (const component of [...this.components].reverse()) {
      killPid(component.process.pid);
    }
    killPid(this.watchdog?.pid);
    if (!this.options.keepWorkDir) rmSync(this.workDir, { recursive: true, force: true });
  }

  private async boot(): Promise<void> {
    mkdirSync(this.workDir, { recursive: true });
    const pki = await createControlPlanePki(join(this.workDir, 'pki'));
    const [etcdClientPort, etcdPeerPort, apiServerPort] = await distinctFreePorts(3);
    const server = `https://127.0.0.1:${apiServerPort}`;

    this.spawn('etcd', [
      '--name', 'test',
      '--data-dir', join(this.workDir, 'etcd'),
      '--listen-client-urls', `http://127.0.0.1:${etcdClientPort}`,
      '--advertise-client-urls', `http://127.0.0.1:${etcdClientPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${etcdPeerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeerPort}`,
      '--initial-cluster', `test=http://127.0.0.1:${etcdPeerPort}`,
      '--listen-metrics-urls', '',
      // A throw-away store: losing it on a crash loses nothing, and fsync only slows the tests.
      '--unsafe-no-fsync',
      '--log-level', 'warn',
    ]);

    const auditPolicy = join(this.workDir, 'audit-policy.yaml');
    writeFileSync(auditPolicy, AUDIT_POLICY);
    const auditLog = join(this.workDir, 'audit.log');
    // Image volumes are behind a feature gate from 1.31 (alpha) to 1.34 (beta, off by default); 1.30 has no such field.
    const featureGates = this.minor >= 31 && this.minor < 35 ? ['ImageVolume=true'] : [];
    this.spawn('kube-apiserver', [
      '--etcd-servers', `http://127.0.0.1:${etcdClientPort}`,
      '--bind-address', '127.0.0.1',
      '--advertise-address', '127.0.0.1',
      '--secure-port', String(apiServerPort),
      '--tls-cert-file', pki.apiServerCert,
      '--tls-private-key-file', pki.apiServerKey,
      '--client-ca-file', pki.caCert,
      '--authorization-mode', 'Node,RBAC',
      '--service-account-issuer', SERVICE_ACCOUNT_ISSUER,
      '--service-account-key-file', pki.serviceAccountPublicKey,
      '--service-account-signing-key-file', pki.serviceAccountKey,
      '--service-cluster-ip-range', SERVICE_CIDR,
      // As on kubeadm, k3s and kind: NodeTrust's DaemonSet is privileged.
      '--allow-privileged=true',
      '--audit-policy-file', auditPolicy,
      '--audit-log-path', auditLog,
      '--audit-log-mode', 'blocking',
      '--profiling=false',
      ...(featureGates.length > 0 ? ['--feature-gates', featureGates.join(',')] : []),
    ]);

    const adminKubeconfig = join(this.workDir, 'admin.kubeconfig');
    writeFileSync(adminKubeconfig, kubeconfig(server, pki.caCert, pki.adminCert, pki.adminKey, 'admin'));
    const controllerManagerKubeconfig = join(this.workDir, 'controller-manager.kubeconfig');
    writeFileSync(controllerManagerKubeconfig, kubeconfig(server, pki.caCert, pki.controllerManagerCert, pki.controllerManagerKey, 'system:kube-controller-manager'));

    this.clusterInfo = {
      version: this.version,
      minor: this.minor,
      server,
      kubeconfig: adminKubeconfig,
      caFile: pki.caCert,
      clientCertFile: pki.adminCert,
      clientKeyFile: pki.adminKey,
      kubectl: join(this.binDir, 'kubectl'),
      auditLog,
      featureGates,
    };
    await this.waitFor('kube-apiserver /readyz', async () => (await this.get('/readyz')).status === 200);

    this.spawn('kube-controller-manager', [
      '--kubeconfig', controllerManagerKubeconfig,
      '--authentication-kubeconfig', controllerManagerKubeconfig,
      '--authorization-kubeconfig', controllerManagerKubeconfig,
      '--bind-address', '127.0.0.1',
      '--secure-port', String((await distinctFreePorts(1))[0]),
      '--leader-elect=false',
      // Each controller acts with its own ServiceAccount's token, so RBAC applies to it.
      '--use-service-account-credentials',
      '--service-account-private-key-file', pki.serviceAccountKey,
      '--root-ca-file', pki.caCert,
      '--service-cluster-ip-range', SERVICE_CIDR,
      '--profiling=false',
      ...(featureGates.length > 0 ? ['--feature-gates', featureGates.join(',')] : []),
    ]);
    // The ServiceAccount controller runs: it creates every namespace's `default` ServiceAccount.
    await this.waitFor('the default ServiceAccount of namespace default', async () =>
      (await this.get('/api/v1/namespaces/default/serviceaccounts/default')).status === 200);
  }

  private spawn(binary: string, args: string[]): void {
    const logFile = join(this.workDir, `${binary}.log`);
    const log = openSync(logFile, 'a');
    const child = spawn(join(this.binDir, binary), args, { cwd: this.workDir, stdio: ['ignore', log, log], env: { PATH: process.env.PATH ?? '' } });
    closeSync(log);
    child.on('error', () => undefined);
    this.components.push({ name: binary, process: child, logFile });
    this.replaceWatchdog();
  }

  /** A shell that SIGKILLs every component once this process is gone (a crashed or killed test run). */
  private replaceWatchdog(): void {
    killPid(this.watchdog?.pid);
    const pids = this.components.map((c) => c.process.pid).join(' ');
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; kill -9 ${pids} 2>/dev/null; exit 0`;
    this.watchdog = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
    this.watchdog.unref();
  }

  /** Polls `ready` until it holds; fails at once if a component exits. */
  private async waitFor(what: string, ready: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError = '';
    while (Date.now() < deadline) {
      const exited = this.components.find((c) => c.process.exitCode !== null || c.process.signalCode !== null);
      if (exited) throw new Error(`${exited.name} exited with ${exited.process.exitCode ?? exited.process.signalCode} while waiting for ${what}`);
      try {
        if (await ready()) return;
      } catch (error) {
        lastError = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`timed out after ${READY_TIMEOUT_MS / 1000} s waiting for ${what}${lastError ? ` (${lastError})` : ''}`);
  }

  private get(path: string): Promise<{ status: number; body: string }> {
    const cluster = this.cluster;
    return new Promise((resolve, reject) => {
      const req = request(`${cluster.server}${path}`, {
        ca: readFileSync(cluster.caFile), cert: readFileSync(cluster.clientCertFile), key: readFileSync(cluster.clientKeyFile), timeout: 5_000,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
      req.on('error', reject);
      req.end();
    });
  }
}

/** SIGKILLs a PID this process started; a process already gone is fine. */
export function killPid(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already exited.
  }
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freeLoopbackPort());
  return [...ports];
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf-8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function kubeconfig(server: string, caFile: string, certFile: string, keyFile: string, user: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { 'server': server, 'certificate-authority': caFile } }],
    users: [{ name: user, user: { 'client-certificate': certFile, 'client-key': keyFile } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user } }],
    'current-context': 'test',
  }, null, 2);
}

/** The files of a control plane's PKI. */
interface ControlPlanePki {
  readonly caCert: string;
  readonly apiServerCert: string;
  readonly apiServerKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
  readonly controllerManagerCert: string;
  readonly controllerManagerKey: string;
  readonly serviceAccountKey: string;
  readonly serviceAccountPublicKey: string;
}

/**
 * A CA, the API server's serving certificate (127.0.0.1, localhost and the in-cluster names), client
 * certificates for a cluster admin (group system:masters) and the controller manager, and the
 * service-account signing key pair, all made with openssl for this control plane only.
 */
async function createControlPlanePki(dir: string): Promise<ControlPlanePki> {
  mkdirSync(dir, { recursive: true });
  const file = (name: string) => join(dir, name);
  const openssl = (args: string[]) => runChecked('openssl', args, { timeoutMs: OPENSSL_TIMEOUT_MS });
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

  await openssl(['req', '-x509', ...ecKey, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '2',
    '-subj', '/CN=cdk8s-trusted-registry test cluster CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);

  const issue = async (name: string, subject: string, extensions: string[]) => {
    await openssl(['req', '-new', ...ecKey, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', subject]);
    writeFileSync(file(`${name}.ext`), [...extensions, 'keyUsage=critical,digitalSignature', 'basicConstraints=critical,CA:FALSE'].join('\n') + '\n');
    await openssl(['x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-days', '2', '-extfile', file(`${name}.ext`), '-out', file(`${name}.crt`)]);
  };
  await issue('apiserver', '/CN=kube-apiserver', [
    `subjectAltName=IP:127.0.0.1,IP:${KUBERNETES_SERVICE_IP},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local`,
    'extendedKeyUsage=serverAuth',
  ]);
  await issue('admin', '/O=system:masters/CN=test-admin', ['extendedKeyUsage=clientAuth']);
  await issue('controller-manager', '/CN=system:kube-controller-manager', ['extendedKeyUsage=clientAuth']);
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', file('sa.key')]);
  await openssl(['pkey', '-in', file('sa.key'), '-pubout', '-out', file('sa.pub')]);

  return {
    caCert: file('ca.crt'),
    apiServerCert: file('apiserver.crt'),
    apiServerKey: file('apiserver.key'),
    adminCert: file('admin.crt'),
    adminKey: file('admin.key'),
    controllerManagerCert: file('controller-manager.crt'),
    controllerManagerKey: file('controller-manager.key'),
    serviceAccountKey: file('sa.key'),
    serviceAccountPublicKey: file('sa.pub'),
  };
}
