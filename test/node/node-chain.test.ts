import { randomBytes } from 'crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { COPIED_FROM_ANNOTATION, GENERATION_ANNOTATION } from '../../src/access/credentials-scripts';
import { ControlPlane } from '../kube/control-plane';
import { KubeClient } from '../kube/kube-fixture';
import { kubeBinDir, kubeVersions } from '../kube/versions';
import { describeWithPrerequisites } from '../util/binaries';
import { Manifest } from '../util/manifests';
import { registryVolume, REGISTRY_UID, synthesizeChain, TEAM_NAMESPACE } from './chain-chart';
import { buildLocalImage, executableWithLibraries, LocalImage } from './local-image';
import { buildNodeImages, NodeImages } from './node-images';
import { missingNodePrerequisites } from './node-prerequisites';
import { NODE_NETWORK, TestNode } from './test-node';

// The whole chain on a real node: the chart's synthesized objects applied to a real API server,
// its Jobs and registry run by a real kubelet and containerd, NodeTrust writing the node's files,
// CI pushing with the push identity, and the kubelet pulling by digest over TLS with the pull
// Secret the chart copied. See test/e2e/README.md ("The node tier") for what differs from production.

const VERSION = kubeVersions()[0];
const KEEP = process.env.E2E_KEEP_WORKDIR === '1';
const REGISTRY_HOST = 'registry.mycorp.local';
const NO_ACCESS_NAMESPACE = 'no-access';
const FIELD_MANAGER = 'cdk8s-trusted-registry';
const WAIT_MS = 180_000;

describeWithPrerequisites('the chain on a real node (containerd + kubelet)', missingNodePrerequisites(VERSION), () => {
  let workDir: string;
  let plane: ControlPlane | undefined;
  let node: TestNode | undefined;
  let client: KubeClient;
  let images: NodeImages;
  let app: LocalImage;
  let appReference: string;
  const certificateSeed = randomBytes(32).toString('base64');
  const today = new Date();
  const notBefore = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - 1));
  const chain = (generation: number) => synthesizeChain({ images, generation, certificateSeed, notBefore });

  /** The node's logs, every pod's state and every warning event: printed when a step fails. */
  async function diagnostics(): Promise<string> {
    const parts = [node?.logTails(40) ?? '(no node)'];
    try {
      const pods = (await client.request('GET', '/api/v1/pods')).body.items ?? [];
      parts.push('--- pods:', ...pods.map((p: any) => `${p.metadata.namespace}/${p.metadata.name} ${p.status.phase} ${JSON.stringify(p.status.containerStatuses?.map((c: any) => c.state) ?? p.status.conditions)}`));
      const events = (await client.request('GET', '/api/v1/events')).body.items ?? [];
      parts.push('--- events:', ...events.map((e: any) => `${e.type} ${e.involvedObject.kind} ${e.involvedObject.namespace ?? ''}/${e.involvedObject.name}: ${e.reason}: ${e.message}`));
    } catch (error) {
      parts.push(`(API server unreachable: ${(error as Error).message})`);
    }
    return parts.join('\n');
  }

  /** A test whose failure prints the kubelet's and containerd's log tails and the pods' events. */
  function step(name: string, body: () => Promise<void>, timeoutMs = 5 * 60_000): void {
    test(name, async () => {
      try {
        await body();
      } catch (error) {
        // eslint-disable-next-line no-console
        console.error(`${name} failed:\n${await diagnostics()}`);
        throw error;
      }
    }, timeoutMs);
  }

  async function apply(objects: readonly Manifest[]) {
    const file = join(workDir, `apply-${Date.now()}.json`);
    // JSON, not YAML: YAML 1.1 readers (kubectl) take unquoted `off` for a boolean.
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
    return client.kubectl(['apply', '--server-side', '--field-manager', FIELD_MANAGER, '-f', file]);
  }

  async function waitForJob(name: string): Promise<void> {
    await client.waitFor(`Job ${name} to complete`, async () => {
      const job = (await client.request('GET', `/apis/batch/v1/namespaces/registry/jobs/${name}`)).body;
      if (job.status?.failed) throw new Error(`Job ${name} failed: ${JSON.stringify(job.status)}`);
      return job.status?.succeeded === 1;
    }, WAIT_MS);
  }

  async function secret(namespace: string, name: string): Promise<any> {
    return (await client.expectOk('GET', `/api/v1/namespaces/${namespace}/secrets/${name}`)).body;
  }

  /** The lines of the registry's `reader` (pull path) or `writer` (push path) container logs on the node, every pod and restart. */
  function registryLog(container: 'reader' | 'writer'): string[] {
    const logs = join(node!.workDir, 'pod-logs');
    return readdirSync(logs).filter((dir) => /^registry_registry-[a-z0-9]+-[a-z0-9]+_/.test(dir) && !dir.includes('credentials')).flatMap((dir) => {
      const containerDir = join(logs, dir, container);
      return existsSync(containerDir) ? readdirSync(containerDir).flatMap((file) => readFileSync(join(containerDir, file), 'utf-8').split('\n')) : [];
    });
  }

  /**
   * The registry's requests, from its access log, as `METHOD URI STATUS USER-AGENT`. Distribution
   * 2.8 logs the authenticated user only on errors, so who pulled shows in the status instead: the
   * registry answers 401 to a request without valid credentials.
   */
  function registryRequests(container: 'reader' | 'writer'): string[] {
    return registryLog(container).flatMap((line) => {
      const match = / stdout F \S+ - - \[[^\]]+\] "(\S+) (\S+) HTTP\/[\d.]+" (\d+) \d+ "[^"]*" "([^"]*)"/.exec(line);
      return match ? [`${match[1]} ${match[2]} ${match[3]} ${match[4]}`] : [];
    });
  }

  /** containerd's requests for the app's manifest by digest, on the read-only path. */
  function manifestPulls(): string[] {
    return registryRequests('reader').filter((r) => r.includes(` /v2/team/app/manifests/${app.manifestDigest} `) && / containerd\//.test(r));
  }

  /**
   * Routes the ClusterIPs of the registry's Services on the node to its ready pod, as kube-proxy
   * would: `registry` (the read-only path nodes pull through) and `registry-push` (the writer).
   */
  async function routeRegistry(): Promise<{ clusterIp: string; pushClusterIp: string }> {
    const clusterIps: Record<string, string> = {};
    for (const name of ['registry', 'registry-push']) {
      const service = (await client.expectOk('GET', `/api/v1/namespaces/registry/services/${name}`)).body;
      const port = service.spec.ports[0];
      const selector = Object.entries(service.spec.selector).map(([k, v]) => `${k}=${v}`).join(',');
      let podIp = '';
      await client.waitFor('a Ready registry pod', async () => {
        const pods = (await client.expectOk('GET', `/api/v1/namespaces/registry/pods?labelSelector=${encodeURIComponent(selector)}`)).body.items;
        const ready = pods.find((p: any) => !p.metadata.deletionTimestamp && p.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
        podIp = ready?.status.podIP ?? '';
        return podIp !== '';
      }, WAIT_MS);
      await node!.routeService(service.spec.clusterIP, port.port, `${podIp}:${port.targetPort}`);
      clusterIps[name] = service.spec.clusterIP;
    }
    return { clusterIp: clusterIps.registry, pushClusterIp: clusterIps['registry-push'] };
  }

  async function deploymentReady(namespace: string, name: string): Promise<void> {
    await client.waitFor(`Deployment ${namespace}/${name} Ready`, async () => {
      const deployment = (await client.request('GET', `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`)).body;
      return deployment.status?.readyReplicas === 1 && deployment.status?.updatedReplicas === 1 && deployment.status?.replicas === 1;
    }, WAIT_MS);
  }

  function appDeployment(namespace: string, image: string): Manifest {
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'app', namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'app' } },
        template: {
          metadata: { labels: { app: 'app' } },
          // No imagePullSecrets here: the namespace's default ServiceAccount carries the copied Secret.
          spec: { containers: [{ name: 'app', image }], terminationGracePeriodSeconds: 1 },
        },
      },
    };
  }

  /**
   * skopeo in the node's namespaces, trusting the chart's certificate. It resolves the registry
   * through the node's /etc/hosts (NodeTrust's entry: the read-only path), or, given `hostsLine`,
   * through a hosts file of its own, as CI reaches the push path through the Ingress.
   */
  async function skopeo(args: string[], authJson: string, hostsLine?: string) {
    const dir = mkdtempSync(join(workDir, 'skopeo-'));
    mkdirSync(join(dir, 'certs'));
    writeFileSync(join(dir, 'certs', 'ca.crt'), chain(1).certificatePem);
    writeFileSync(join(dir, 'auth.json'), authJson, { mode: 0o600 });
    const [command, ...rest] = args;
    const certFlag = command === 'copy' ? '--dest-cert-dir' : '--cert-dir';
    const authFlag = command === 'copy' ? '--dest-authfile' : '--authfile';
    const skopeoArgs = ['skopeo', '--insecure-policy', command, certFlag, join(dir, 'certs'), authFlag, join(dir, 'auth.json'), ...rest];
    if (hostsLine === undefined) return node!.exec('env', [`HOME=${dir}`, ...skopeoArgs], 120_000);
    writeFileSync(join(dir, 'hosts'), `127.0.0.1 localhost\n${hostsLine}\n`);
    return node!.exec('unshare', ['--mount', '--', 'sh', '-c', 'mount --bind "$1" /etc/hosts && shift && exec env "HOME=$0" "$@"', dir, join(dir, 'hosts'), ...skopeoArgs], 120_000);
  }

  beforeAll(async () => {
    const started = Date.now();
    workDir = mkdtempSync(join(tmpdir(), 'trusted-registry-node-'));
    images = await buildNodeImages(join(workDir, 'images'), join(kubeBinDir(VERSION), 'kubectl'));
    // Random content: an image no node has seen, so its pull cannot be served from a cache.
    const appFile = join(workDir, 'app-id');
    writeFileSync(appFile, randomBytes(16).toString('hex'));
    app = await buildLocalImage(join(workDir, 'images', 'app'), {
      name: 'app',
      files: [...await executableWithLibraries('/bin/busybox'), { source: appFile, target: '/app-id' }],
      entrypoint: ['/bin/busybox', 'sleep', 'infinity'],
    });
    appReference = `${REGISTRY_HOST}/team/app@${app.manifestDigest}`;

    plane = await ControlPlane.start({ version: VERSION, workDir: join(workDir, 'control-plane'), keepWorkDir: KEEP });
    client = new KubeClient(plane.cluster);
    const cluster = plane.cluster;
    node = await TestNode.start({
      controlPlane: { server: cluster.server, caFile: cluster.caFile, caKeyFile: join(dirname(cluster.caFile), 'ca.key') },
      kubeBinDir: kubeBinDir(VERSION),
      workDir: join(workDir, 'node'),
      keepWorkDir: KEEP,
      sandboxImage: images.pause,
      images: [images.shell, images.htpasswd, images.kubectl, images.registry],
    });
    // Pods reach the API server at the `kubernetes` Service's ClusterIP, as in any cluster.
    const kubernetes = (await client.expectOk('GET', '/api/v1/namespaces/default/services/kubernetes')).body;
    await node.routeService(kubernetes.spec.clusterIP, 443, new URL(cluster.server).host);
    await client.waitFor('the node to be Ready', async () => {
      const response = await client.request('GET', `/api/v1/nodes/${node!.name}`);
      return response.status === 200 && response.body.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'True');
    }, WAIT_MS);
    // eslint-disable-next-line no-console
    console.log(`node tier: images built, control plane and node Ready in ${((Date.now() - started) / 1000).toFixed(0)} s${KEEP ? ` (kept: ${workDir})` : ''}`);
  }, 10 * 60_000);

  afterAll(() => {
    node?.stop();
    plane?.stop();
    client?.close();
    if (!KEEP && workDir) rmSync(workDir, { recursive: true, force: true });
  });

  step('the kubelet registers a Ready node running containerd, on documentation-range addresses', async () => {
    const status = (await client.expectOk('GET', `/api/v1/nodes/${node!.name}`)).body.status;
    expect(status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
    expect(status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/1\./);
    expect(status.nodeInfo.kubeletVersion).toBe(`v${VERSION}`);
    expect(status.addresses).toContainEqual({ type: 'InternalIP', address: NODE_NETWORK.nodeIp });
  });

  step('1. apply: the credentials Job writes the Secrets, the pull access Job copies one, the registry becomes Ready behind TLS probes', async () => {
    // GIVEN the synthesized chart, the team namespace, and a volume for the registry's claim
    const { manifests } = chain(1);
    const volumeDir = join(node!.workDir, 'volumes', 'registry');
    mkdirSync(volumeDir, { recursive: true });
    chownSync(volumeDir, REGISTRY_UID, REGISTRY_UID);
    await client.ensureNamespace(TEAM_NAMESPACE);
    await client.ensureNamespace(NO_ACCESS_NAMESPACE);

    // WHEN it is applied
    const applied = await apply([registryVolume(manifests, volumeDir), ...manifests]);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);

    // THEN the credentials Job completes and has written the three Secrets at generation 1
    const generatorJob = manifests.find((m) => m.kind === 'Job' && m.metadata.name!.startsWith('registry-credentials-'))!;
    await waitForJob(generatorJob.metadata.name!);
    for (const name of ['registry-htpasswd', 'registry-push', 'registry-pull']) {
      expect((await secret('registry', name)).metadata.annotations[GENERATION_ANNOTATION]).toBe('1');
    }
    const pullAccessJob = manifests.find((m) => m.kind === 'Job' && m.metadata.name!.includes('pullaccess'))!;
    await waitForJob(pullAccessJob.metadata.name!);
    // AND the registry is Ready: the kubelet's probes of both paths, over TLS (HTTP/2 needs TLS), answered 200
    await deploymentReady('registry', 'registry');
    const containers = manifests.find((m) => m.kind === 'Deployment')!.spec.template.spec.containers;
    expect(containers.map((c: any) => [c.name, c.readinessProbe.httpGet.scheme])).toEqual([['reader', 'HTTPS'], ['writer', 'HTTPS']]);
    for (const container of ['reader', 'writer'] as const) {
      expect(registryLog(container).some((line) => /"GET \/ HTTP\/2\.0" 200 .*"kube-probe\//.test(line))).toBe(true);
    }
    await routeRegistry();
  });

  step('2. NodeTrust writes certs.d/<host>/hosts.toml and the CA, and maps the host to the ClusterIP in /etc/hosts', async () => {
    const { clusterIp } = await routeRegistry();
    const hostDir = join(node!.containerdConfigDir, 'certs.d', REGISTRY_HOST);
    await client.waitFor('NodeTrust to write the node\'s files', async () =>
      existsSync(join(hostDir, 'hosts.toml')) && readFileSync(node!.hostsFile, 'utf-8').includes(REGISTRY_HOST), WAIT_MS);
    expect(readFileSync(join(hostDir, 'ca.crt'), 'utf-8').trim()).toBe(chain(1).certificatePem.trim());
    expect(readFileSync(join(hostDir, 'hosts.toml'), 'utf-8')).toContain(`server = "https://${REGISTRY_HOST}"`);
    const hostsLines = readFileSync(node!.hostsFile, 'utf-8').split('\n').filter((line) => line.includes(REGISTRY_HOST));
    expect(hostsLines).toHaveLength(1);
    expect(hostsLines[0].split(/\s+/).slice(0, 2)).toEqual([clusterIp, REGISTRY_HOST]);
  });

  step('3. CI pushes the app image with the push identity, through the push path', async () => {
    // GIVEN CI resolving the registry host to the push Service (in production: the Ingress)
    const { pushClusterIp } = await routeRegistry();
    const push = await secret('registry', 'registry-push');
    const digestFile = join(workDir, 'app.digest');

    // WHEN it pushes
    const pushed = await skopeo(['copy', '--preserve-digests', '--digestfile', digestFile, `oci:${join(workDir, 'images', 'app')}`, `docker://${REGISTRY_HOST}/team/app:1.0`],
      Buffer.from(push.data['.dockerconfigjson'], 'base64').toString(), `${pushClusterIp} ${REGISTRY_HOST}`);

    // THEN the writer stored it, under the digest of the built image
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    expect(readFileSync(digestFile, 'utf-8').trim()).toBe(app.manifestDigest);
    expect(registryRequests('writer')).toContainEqual(expect.stringMatching(/^PUT \/v2\/team\/app\/manifests\/1\.0 201 skopeo\//));
  });

  step('5. a tag-only or public image is refused at apply; without the pull Secret the kubelet\'s pull fails with 401', async () => {
    // GIVEN the image is not on the node
    expect(await node!.imageReferences()).not.toContain(appReference);

    // WHEN the Deployment names the image by tag only, or a public image, THEN the API server refuses it
    const tagOnly = await apply([appDeployment(TEAM_NAMESPACE, `${REGISTRY_HOST}/team/app:1.0`)]);
    expect(tagOnly.code).not.toBe(0);
    expect(tagOnly.stderr).toContain('pinned by digest');
    const publicImage = await apply([appDeployment(TEAM_NAMESPACE, `docker.io/library/busybox@${app.manifestDigest}`)]);
    expect(publicImage.code).not.toBe(0);
    expect(publicImage.stderr).toContain('trusted registry');

    // WHEN a pod with the right digest runs where the chart granted no access (admitted: the policy
    // checks the reference, not the credentials)
    const applied = await apply([appDeployment(NO_ACCESS_NAMESPACE, appReference)]);
    expect(applied.code).toBe(0);

    // THEN containerd's pull is refused by the registry: ErrImagePull, 401
    let message = '';
    await client.waitFor('the pull without credentials to fail', async () => {
      const pods = (await client.expectOk('GET', `/api/v1/namespaces/${NO_ACCESS_NAMESPACE}/pods`)).body.items;
      const waiting = pods[0]?.status.containerStatuses?.[0]?.state?.waiting;
      message = waiting?.message ?? '';
      return ['ErrImagePull', 'ImagePullBackOff'].includes(waiting?.reason);
    }, WAIT_MS);
    expect(message).toContain('401 Unauthorized');
    expect(await node!.imageReferences()).not.toContain(appReference);
    // containerd asked the registry (over TLS, through NodeTrust's hosts entry) and got only 401s
    expect(manifestPulls().length).toBeGreaterThan(0);
    manifestPulls().forEach((request) => expect(request).toMatch(/ 401 containerd\//));
    await client.kubectl(['delete', 'deployment', 'app', '--namespace', NO_ACCESS_NAMESPACE, '--wait=true', '--timeout=60s']);
  });

  step('4. the team\'s Deployment pinned by digest becomes Ready: containerd pulled it over TLS with the copied pull Secret', async () => {
    // GIVEN the pull Secret the chart copied into the team namespace, on its default ServiceAccount
    const serviceAccount = (await client.expectOk('GET', `/api/v1/namespaces/${TEAM_NAMESPACE}/serviceaccounts/default`)).body;
    expect(serviceAccount.imagePullSecrets).toEqual([{ name: 'registry-pull' }]);
    expect(await node!.imageReferences()).not.toContain(appReference);

    // WHEN the Deployment is applied
    const applied = await apply([appDeployment(TEAM_NAMESPACE, appReference)]);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);

    // THEN it becomes Ready, with the image in containerd's store under its digest reference,
    // fetched by containerd from the registry as the pull user
    await deploymentReady(TEAM_NAMESPACE, 'app');
    expect(await node!.imageReferences()).toContain(appReference);
    // (the namespace's only credentials are the copied pull Secret; without them the registry answers 401, see step 5)
    expect(manifestPulls()).toContainEqual(expect.stringMatching(/^GET \S+ 200 containerd\//));
  });

  step('6. rotation: a new generation runs the Jobs again, the new pull Secret arrives, and a fresh pull succeeds', async () => {
    // GIVEN the credentials in use
    const oldPull = (await secret(TEAM_NAMESPACE, 'registry-pull')).data['.dockerconfigjson'];

    // WHEN generation 2 is applied
    const { manifests } = chain(2);
    const applied = await apply(manifests);
    expect(applied.code).toBe(0);

    // THEN the Jobs of generation 2 complete and the team namespace gets a new pull Secret
    for (const job of manifests.filter((m) => m.kind === 'Job')) await waitForJob(job.metadata.name!);
    await client.waitFor('the new pull Secret in the team namespace', async () =>
      (await secret(TEAM_NAMESPACE, 'registry-pull')).data['.dockerconfigjson'] !== oldPull, WAIT_MS);
    const source = await secret('registry', 'registry-pull');
    expect(source.metadata.annotations[GENERATION_ANNOTATION]).toBe('2');
    const copy = await secret(TEAM_NAMESPACE, 'registry-pull');
    expect(copy.data['.dockerconfigjson']).toBe(source.data['.dockerconfigjson']);
    expect(copy.metadata.annotations[COPIED_FROM_ANNOTATION]).toBe('registry/registry-pull');

    // AND with the image gone from the node, a new pod pulls it again, with the new Secret
    await routeRegistry();
    const removed = await node!.ctr(['images', 'remove', appReference]);
    expect(removed.code).toBe(0);
    // A pull by digest starts with HEAD (resolve); the blobs may still be in containerd's content store.
    const successfulPulls = () => manifestPulls().filter((r) => /^(HEAD|GET) \S+ 200 /.test(r)).length;
    const pulledBefore = successfulPulls();
    const podsPath = `/api/v1/namespaces/${TEAM_NAMESPACE}/pods?labelSelector=app%3Dapp`;
    const oldPods = new Set((await client.expectOk('GET', podsPath)).body.items.map((p: any) => p.metadata.uid));
    await client.expectOk('DELETE', podsPath);
    await client.waitFor('a new app pod to be Ready', async () => (await client.expectOk('GET', podsPath)).body.items.some((p: any) =>
      !oldPods.has(p.metadata.uid) && p.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')), WAIT_MS);
    expect(await node!.imageReferences()).toContain(appReference);
    expect(successfulPulls()).toBeGreaterThan(pulledBefore);

    // AND the old pull credentials no longer work
    const oldInspect = await skopeo(['inspect', '--raw', `docker://${appReference}`], Buffer.from(oldPull, 'base64').toString());
    expect(oldInspect.code).not.toBe(0);
    expect(oldInspect.stderr).toMatch(/401|unauthorized/i);
  });
});
