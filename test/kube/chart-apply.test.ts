import { readdirSync } from 'fs';
import { join } from 'path';
import { App, Chart, Testing } from 'cdk8s';
import { HtpasswdSource, PolicyMode, RegistryCertificate, TrustedImagePolicy, TrustedRegistryChart } from '../../src';
import { Manifest } from '../util/manifests';
import { collectionPath, describeWithKube, KubeClient, useExclusiveCluster, writeManifests } from './kube-fixture';

// The chart's output applied to a real API server the way a GitOps tool applies it
// (`kubectl apply --server-side`): accepted without error or warning, idempotent, and every pod
// template admitted by Pod Security admission in its namespace.

const FIELD_MANAGER = 'cdk8s-trusted-registry';
const CRD_DIR = join(__dirname, '..', 'fixtures', 'crds');

/** The default app's chart. */
function defaultOutput(): Manifest[] {
  return Testing.synth(new TrustedRegistryChart(Testing.app(), 'trusted-registry')) as Manifest[];
}

/**
 * Every optional construct on: credentials generated in the cluster, pull access for two
 * namespaces, NodeTrust, a NetworkPolicy, a cert-manager certificate, audit mode, and a second
 * policy trusting two sources (a host and a host/path prefix).
 */
function fullFeaturedOutput(): Manifest[] {
  const app: App = Testing.app();
  const chart = new TrustedRegistryChart(app, 'trusted-registry', {
    namespace: 'registry-full',
    registry: { htpasswd: HtpasswdSource.generated(), certificate: RegistryCertificate.fromCertManager() },
    nodeTrust: {},
    networkPolicy: { nodeCidrs: ['10.0.0.0/16'] },
    pullNamespaces: ['team-a', 'team-b'],
    policyMode: PolicyMode.AUDIT,
  });
  const mirrors = new Chart(app, 'mirrors');
  new TrustedImagePolicy(mirrors, 'Mirrors', {
    name: 'trusted-mirrors',
    trustedSources: ['registry.mycorp.local', 'mirror.mycorp.local/team-a/'],
    exemptNamespaces: ['kube-system', 'registry-full'],
    mode: PolicyMode.AUDIT,
  });
  return [...Testing.synth(chart), ...Testing.synth(mirrors)] as Manifest[];
}

/** The pod spec (and its metadata) of every object that makes pods. */
function podTemplates(manifests: Manifest[]): Array<{ owner: string; namespace: string; template: any }> {
  return manifests.flatMap((m) => {
    const template = m.kind === 'CronJob' ? m.spec.jobTemplate.spec.template : m.spec?.template;
    return template?.spec ? [{ owner: `${m.kind} ${m.metadata.name}`, namespace: m.metadata.namespace!, template }] : [];
  });
}

/** kubectl's `Warning: ...` lines. */
function warningLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('Warning:'));
}

function objectPath(client: KubeClient, manifest: Manifest, resources: Map<string, string>): string {
  const [group, version] = manifest.apiVersion.includes('/') ? manifest.apiVersion.split('/') : ['', manifest.apiVersion];
  const resource = resources.get(`${manifest.apiVersion}/${manifest.kind}`);
  if (!resource) throw new Error(`no resource for ${manifest.apiVersion}/${manifest.kind} on ${client.cluster.version}`);
  return `${collectionPath({ group, version, resource }, manifest.metadata.namespace)}/${manifest.metadata.name}`;
}

/** `apiVersion/kind` → plural resource name, from the server's discovery. */
async function discoverResources(client: KubeClient, manifests: Manifest[]): Promise<Map<string, string>> {
  const resources = new Map<string, string>();
  for (const apiVersion of new Set(manifests.map((m) => m.apiVersion))) {
    const list = (await client.expectOk('GET', apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`)).body;
    for (const resource of list.resources) {
      if (!resource.name.includes('/')) resources.set(`${apiVersion}/${resource.kind}`, resource.name);
    }
  }
  return resources;
}

describeWithKube('chart output on a real API server', (cluster) => {
  const client = useExclusiveCluster(cluster);

  beforeAll(async () => {
    // cert-manager's CRDs, from the fixtures the typed imports were generated from.
    for (const file of readdirSync(join(CRD_DIR, 'cert-manager'))) {
      const applied = await client.kubectl(['apply', '--server-side', '--field-manager', FIELD_MANAGER, '-f', join(CRD_DIR, 'cert-manager', file)]);
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
    }
    const established = await client.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/certificates.cert-manager.io', 'crd/issuers.cert-manager.io', 'crd/clusterissuers.cert-manager.io']);
    expect(established.code).toBe(0);
  });

  describe.each([
    ['default output', defaultOutput, [] as string[]],
    ['full-featured output', fullFeaturedOutput, ['team-a', 'team-b']],
  ])('%s', (_name, output, consumerNamespaces) => {
    const manifests = output();
    const file = writeManifests(manifests);
    let firstApply: { code: number | null; stdout: string; stderr: string };

    beforeAll(async () => {
      // Consumer namespaces exist before the chart grants them pull access (the README says so).
      for (const namespace of consumerNamespaces) await client.ensureNamespace(namespace);
      firstApply = await client.kubectl(['apply', '--server-side', '--field-manager', FIELD_MANAGER, '-f', file]);
    });

    afterAll(async () => {
      await client.kubectl(['delete', '--ignore-not-found', '--wait=true', '--timeout=120s', '-f', file], 180_000);
      for (const namespace of consumerNamespaces) await client.request('DELETE', `/api/v1/namespaces/${namespace}`);
    }, 200_000);

    test('applies server-side without error or warning', () => {
      expect(firstApply.stderr).toBe('');
      expect(warningLines(firstApply.stderr)).toEqual([]);
      expect(firstApply.code).toBe(0);
      // One line per object, all applied.
      const lines = firstApply.stdout.trim().split('\n');
      expect(lines).toHaveLength(manifests.length);
      lines.forEach((line) => expect(line).toMatch(/ serverside-applied$/));
    });

    test('a second apply changes nothing', async () => {
      // GIVEN every object as the server holds it after the first apply
      const resources = await discoverResources(client, manifests);
      const snapshot = async () => Promise.all(manifests.map(async (m) => {
        const live = (await client.expectOk('GET', objectPath(client, m, resources))).body;
        const ours = live.metadata.managedFields.filter((entry: any) => entry.manager === FIELD_MANAGER);
        return { object: `${m.kind} ${m.metadata.namespace ?? ''}/${m.metadata.name}`, generation: live.metadata.generation, ours };
      }));
      const before = await snapshot();

      // WHEN the same file is diffed and applied again
      const diff = await client.kubectl(['diff', '--server-side', '--field-manager', FIELD_MANAGER, '-f', file]);
      const second = await client.kubectl(['apply', '--server-side', '--field-manager', FIELD_MANAGER, '-f', file]);

      // THEN kubectl sees no difference, and no object's spec or applied fields changed
      expect(diff.stdout).toBe('');
      expect(diff.code).toBe(0);
      expect(second.stderr).toBe('');
      expect(second.code).toBe(0);
      expect(await snapshot()).toEqual(before);
      before.forEach((entry) => expect(entry.ours).toHaveLength(1));
    });

    test('every pod template is admitted by Pod Security admission in its namespace', async () => {
      const templates = podTemplates(manifests);
      expect(templates.length).toBeGreaterThan(0);
      for (const { owner, namespace, template } of templates) {
        // GIVEN a pod made from the template, in the template's namespace, as its controller would
        const pod = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'pod-security-check', namespace, labels: template.metadata?.labels, annotations: template.metadata?.annotations },
          spec: template.spec,
        };
        // WHEN it is created (server-side dry run: every admission plugin runs, nothing is stored)
        const response = await client.request('POST', `/api/v1/namespaces/${namespace}/pods?dryRun=All&fieldValidation=Strict`, { body: pod });
        // THEN it is admitted without any warning
        expect({ owner, status: response.status, warnings: response.warnings, message: response.body?.message }).toEqual({ owner, status: 201, warnings: [], message: undefined });
      }
    });

    test('namespaces the chart creates enforce the restricted Pod Security Standard', async () => {
      for (const namespace of manifests.filter((m) => m.kind === 'Namespace')) {
        const live = (await client.expectOk('GET', `/api/v1/namespaces/${namespace.metadata.name}`)).body;
        expect(live.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
      }
    });
  });
});
