import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { Testing } from 'cdk8s';
import { NodeTrustMode, TrustedRegistryChart } from '../../src';
import { NODE_TRUST_MARKER, renderNodeTrustScript } from '../../src/tls/node-trust-script';
import { run, RunResult } from '../e2e/exec';
import { Manifest } from '../util/manifests';
import { describeWithKube, useExclusiveCluster } from './kube-fixture';
import { KubeCluster } from './versions';
import { SERVICE_CIDR } from './control-plane';

// Issue 11, finding 3 on a real API server: NodeTrust's two scripts, as the chart's ConfigMap holds
// them, run with `sh` and this version's kubectl. The `resolve` script reads the registry Service
// with a real token of the resolver's ServiceAccount (TokenRequest API, bound only by the chart's
// Role); the `node-trust` script maps the host in a node's /etc/hosts (a temporary directory) from
// that answer, and must refuse it once the Service is changed to ExternalName.

const NAMESPACE = 'resolver-registry';
const HOST = 'registry.resolver.test';
const HOSTS_BEFORE = '127.0.0.1 localhost\n192.168.1.20 build-server\n';
const SCRIPT_TIMEOUT_MS = 60_000;

function chartManifests(): Manifest[] {
  const chart = new TrustedRegistryChart(Testing.app(), 'resolver', { namespace: NAMESPACE, host: HOST, nodeTrust: { caConfigMapName: 'registry-ca', serviceCidrs: [SERVICE_CIDR] } });
  return Testing.synth(chart) as Manifest[];
}

/** A kubeconfig as the resolver container gets it in-cluster: the server, its CA and the ServiceAccount's token. */
function tokenKubeconfig(cluster: KubeCluster, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'in-cluster', cluster: { 'server': cluster.server, 'certificate-authority': cluster.caFile } }],
    users: [{ name: 'resolver', user: { token } }],
    contexts: [{ name: 'in-cluster', context: { cluster: 'in-cluster', user: 'resolver' } }],
    'current-context': 'in-cluster',
  });
}

describeWithKube('NodeTrust\'s scripts against a real API server, with the resolver\'s own token', (cluster) => {
  const client = useExclusiveCluster(cluster);
  const manifests = chartManifests();
  const configMap = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.namespace === 'kube-system')!;
  const serviceAccount = manifests.find((m) => m.kind === 'ServiceAccount' && m.metadata.namespace === 'kube-system')!;
  const service = manifests.find((m) => m.kind === 'Service' && m.metadata.name === 'registry')!;
  const applied = manifests.filter((m) => ['Namespace', 'ServiceAccount', 'Role', 'RoleBinding'].includes(m.kind) || m === service);
  const dir = mkdtempSync(join(tmpdir(), 'node-trust-resolver-'));
  const paths = {
    kubeconfig: join(dir, 'kubeconfig'),
    resolver: join(dir, 'resolve-service.sh'),
    nodeTrust: join(dir, 'node-trust.sh'),
    answer: join(dir, 'answer'),
    root: join(dir, 'root'),
    ca: join(dir, 'ca.crt'),
    tmp: join(dir, 'tmp'),
    home: join(dir, 'home'),
  };
  const hostsFile = join(paths.root, 'etc', 'hosts');
  const servicePath = `/api/v1/namespaces/${NAMESPACE}/services/registry`;

  /** Runs a script or kubectl as the resolver's ServiceAccount, with this version's kubectl first on PATH. */
  function asResolver(command: string, args: string[]): Promise<RunResult> {
    const env = { PATH: `${dirname(cluster.kubectl)}:${process.env.PATH}`, KUBECONFIG: paths.kubeconfig, HOME: paths.home, ANSWER_FILE: paths.answer };
    return run(command, args, { timeoutMs: SCRIPT_TIMEOUT_MS, env });
  }

  /** Runs NodeTrust's node script once on the resolver's current answer. */
  function nodeTrustOnce(script = paths.nodeTrust): Promise<RunResult> {
    const env = { PATH: process.env.PATH, HOST_ROOT: paths.root, CA_FILE: paths.ca, ANSWER_FILE: paths.answer, TMPDIR: paths.tmp };
    return run('sh', [script, '--once'], { timeoutMs: SCRIPT_TIMEOUT_MS, env });
  }

  beforeAll(async () => {
    await client.ensureNamespace(NAMESPACE);
    await client.applyServerSide(applied);
    for (const path of [paths.tmp, paths.home, join(paths.root, 'etc')]) mkdirSync(path, { recursive: true });
    writeFileSync(hostsFile, HOSTS_BEFORE);
    writeFileSync(paths.ca, '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n');
    writeFileSync(paths.resolver, configMap.data['resolve-service.sh']);
    writeFileSync(paths.nodeTrust, configMap.data['node-trust.sh']);
    writeFileSync(paths.kubeconfig, tokenKubeconfig(cluster, await client.serviceAccountToken('kube-system', serviceAccount.metadata.name!)));
    // RBAC's informers follow the new RoleBinding within moments.
    await client.waitFor('the resolver\'s Role to reach the authorizer', async () =>
      (await asResolver('kubectl', ['auth', 'can-i', 'get', 'services/registry', '--namespace', NAMESPACE])).code === 0);
  }, 300_000);

  afterAll(async () => {
    await client.request('DELETE', `/api/v1/namespaces/kube-system/serviceaccounts/${serviceAccount.metadata.name}`);
    await client.request('DELETE', `/api/v1/namespaces/${NAMESPACE}`);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  // The steps depend on each other (one Service, changed along the way): they run in order.
  let clusterIp: string;

  test('a ClusterIP Service: the resolver writes its type and ClusterIP, and the node maps the host to it', async () => {
    clusterIp = (await client.expectOk('GET', servicePath)).body.spec.clusterIP;
    expect(clusterIp).toMatch(/^203\.0\.113\.\d+$/); // in SERVICE_CIDR

    const resolved = await asResolver('sh', [paths.resolver, '--once']);
    expect(resolved).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(paths.answer, 'utf-8')).toBe(`ClusterIP ${clusterIp}\n`);

    const trusted = await nodeTrustOnce();
    expect(trusted.code).toBe(0);
    expect(readFileSync(hostsFile, 'utf-8')).toBe(`${HOSTS_BEFORE}${clusterIp} ${HOST} # ${NODE_TRUST_MARKER}: ${HOST}\n`);
    expect(readFileSync(join(paths.root, 'etc', 'containerd', 'certs.d', HOST, 'hosts.toml'), 'utf-8')).toContain(`server = "https://${HOST}"`);
  });

  test('the resolver\'s token reads nothing else: another Service, the Service list, Secrets', async () => {
    for (const args of [
      ['get', 'service', 'registry-push', '--namespace', NAMESPACE],
      ['get', 'services', '--namespace', NAMESPACE],
      ['get', 'secrets', '--namespace', 'kube-system'],
      ['get', 'service', 'kubernetes', '--namespace', 'default'],
    ]) {
      const result = await asResolver('kubectl', args);
      expect({ args, code: result.code }).toEqual({ args, code: 1 });
      expect(result.stderr).toMatch(/Error from server \(Forbidden\): .* is forbidden: User "system:serviceaccount:kube-system:[^"]+" cannot (get|list) resource/);
    }
  });

  test('the real ClusterIP outside the Service range NodeTrust was given is refused', async () => {
    // e.g. k3s' range on a kubeadm cluster: the node script refuses an address it cannot vouch for.
    const k3sRange = join(dir, 'node-trust-k3s-range.sh');
    writeFileSync(k3sRange, renderNodeTrustScript({ registryHost: HOST, serviceCidrs: ['10.43.0.0/16'], mode: NodeTrustMode.CONTAINERD, intervalSeconds: 60 }));
    const before = readFileSync(hostsFile, 'utf-8');

    const result = await nodeTrustOnce(k3sRange);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`refused: ${clusterIp} is outside the Service range 10.43.0.0/16`);
    expect(readFileSync(hostsFile, 'utf-8')).toBe(before);
  });

  test('the Service changed to ExternalName: the resolver reports it, and the node refuses it and keeps /etc/hosts', async () => {
    // GIVEN someone who may edit Services in the registry's namespace points it elsewhere
    await client.expectOk('PATCH', servicePath, {
      body: { spec: { type: 'ExternalName', externalName: 'attacker.example.com' } },
      contentType: 'application/merge-patch+json',
    });
    const before = readFileSync(hostsFile, 'utf-8');

    // WHEN the resolver reads it, and the node script runs
    const resolved = await asResolver('sh', [paths.resolver, '--once']);
    const trusted = await nodeTrustOnce();

    // THEN the answer says what the API says (no address: the API server dropped the ClusterIP),
    // the node refuses it, and /etc/hosts still maps the host to the address it had
    expect(resolved.code).toBe(0);
    expect(readFileSync(paths.answer, 'utf-8')).toBe('ExternalName \n');
    expect(trusted.code).toBe(1);
    expect(trusted.stderr).toContain('refused: the Service is of type "ExternalName", not ClusterIP');
    expect(readFileSync(hostsFile, 'utf-8')).toBe(before);
    expect(readFileSync(hostsFile, 'utf-8')).not.toContain('attacker.example.com');
  });

  test('the Service gone: the resolver removes its answer, and the node leaves /etc/hosts as it is', async () => {
    await client.expectOk('DELETE', servicePath);
    const before = readFileSync(hostsFile, 'utf-8');

    const resolved = await asResolver('sh', [paths.resolver, '--once']);
    const trusted = await nodeTrustOnce();

    expect(resolved.code).toBe(1);
    expect(resolved.stderr).toContain(`Error from server (NotFound): services "registry" not found`);
    expect(() => readFileSync(paths.answer)).toThrow(/ENOENT/);
    expect(trusted.code).toBe(1);
    expect(trusted.stderr).toContain('no answer from the API yet');
    expect(readFileSync(hostsFile, 'utf-8')).toBe(before);
  });
});
