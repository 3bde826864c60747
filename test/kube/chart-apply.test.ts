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
    nodeTrust: { caConfigMapName: 'registry-ca' },
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
      expect({ code: applied.code, stderr: applied.stderr }).toEqual({ code: 0, stderr: '' });
    }
    const established = await client.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/certificates.cert-manager.io', 'crd/issuers.cert-manager.io', 'crd/clusterissuers.cert-manager.io']);
    expect({ code: established.code, stderr: established.stderr }).toEqual({ code: 0, stderr: '' });
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
      const live = async (m: Manifest) => (await client.expectOk('GET', objectPath(client, m, resources))).body;
      const snapshot = async () => Promise.all(manifests.map(async (m) => {
        const object = await live(m);
        // Our field manager's entry without its time (see the policy test below for why).
        const ours = object.metadata.managedFields.filter((entry: any) => entry.manager === FIELD_MANAGER).map(({ time, ...entry }: any) => entry);
        return { object: `${m.kind} ${m.metadata.namespace ?? ''}/${m.metadata.name}`, generation: object.metadata.generation, ours };
      }));
      const before = await snapshot();

      // WHEN the same file is diffed and applied again
      const diff = await client.kubectl(['diff', '--server-side', '--field-manager', FIELD_MANAGER, '-f', file]);
      const second = await client.kubectl(['apply', '--server-side', '--field-manager', FIELD_MANAGER, '-f', file]);

      // THEN kubectl sees no difference, and no object's spec (generation) or applied fields changed
      expect({ code: diff.code, stdout: diff.stdout, stderr: diff.stderr }).toEqual({ code: 0, stdout: '', stderr: '' });
      expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 0, stderr: '' });
      expect(await snapshot()).toEqual(before);
      before.forEach((entry) => expect(entry.ours).toHaveLength(1));
    });

    test('ValidatingAdmissionPolicies: only the apply after the status controller\'s first write touches them, and only managedFields', async () => {
      // The status controller applies status.typeChecking server-side (its own field manager, on
      // the status subresource). The next apply of the policy re-sorts metadata.managedFields and
      // stamps our entry's time: a write, though the policy's spec and generation do not change
      // (checked above). From then on an apply writes nothing at all.
      const resources = await discoverResources(client, manifests);
      const policies = manifests.filter((m) => m.kind === 'ValidatingAdmissionPolicy');
      const live = async () => Promise.all(policies.map(async (m) => (await client.expectOk('GET', objectPath(client, m, resources))).body));
      await client.waitFor('the status controller to type-check every policy', async () =>
        (await live()).every((policy) => policy.status?.observedGeneration === policy.metadata.generation));
      const apply = () => client.kubectl(['apply', '--server-side', '--field-manager', FIELD_MANAGER, '-f', file]);
      expect((await apply()).code).toBe(0);
      // On a busy machine the status controller may write once more between two applies, so the
      // pair is tried up to three times: an apply that always writes fails every attempt.
      const versionsAcrossAnApply = async () => {
        const before = (await live()).map((policy) => policy.metadata.resourceVersion);
        expect((await apply()).code).toBe(0);
        return { before, after: (await live()).map((policy) => policy.metadata.resourceVersion) };
      };
      let attempt = await versionsAcrossAnApply();
      for (let retries = 2; retries > 0 && JSON.stringify(attempt.after) !== JSON.stringify(attempt.before); retries--) {
        attempt = await versionsAcrossAnApply();
      }
      expect(attempt.after).toEqual(attempt.before);
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

    test('the controllers create the pods of every Deployment, StatefulSet and Job (admitted for real)', async () => {
      // DaemonSets need nodes and CronJobs their schedule; the dry-run pods above cover their templates.
      const owners = manifests.filter((m) => ['Deployment', 'StatefulSet', 'Job'].includes(m.kind));
      expect(owners.length).toBeGreaterThan(0);
      for (const owner of owners) {
        const selector = owner.kind === 'Job'
          ? `batch.kubernetes.io/job-name=${owner.metadata.name}`
          : Object.entries(owner.spec.selector.matchLabels as Record<string, string>).map(([key, value]) => `${key}=${value}`).join(',');
        const path = `/api/v1/namespaces/${owner.metadata.namespace}/pods?labelSelector=${encodeURIComponent(selector)}`;
        await client.waitFor(`a pod of ${owner.kind} ${owner.metadata.name}`, async () => (await client.expectOk('GET', path)).body.items.length > 0, 90_000);
      }
    }, 300_000);

    test('namespaces the chart creates enforce the restricted Pod Security Standard', async () => {
      const namespaces = manifests.filter((m) => m.kind === 'Namespace');
      expect(namespaces).toHaveLength(1);
      for (const namespace of namespaces) {
        const live = (await client.expectOk('GET', `/api/v1/namespaces/${namespace.metadata.name}`)).body;
        expect(live.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
        // A pod without the restricted settings is refused there (so the admissions above mean something).
        const loose = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'loose' }, spec: { containers: [{ name: 'c', image: `registry.mycorp.local/app@sha256:${'0'.repeat(64)}` }] } };
        const refused = await client.request('POST', `/api/v1/namespaces/${namespace.metadata.name}/pods?dryRun=All`, { body: loose });
        expect(refused.status).toBe(403);
        expect(refused.body.message).toMatch(/violates PodSecurity "restricted:latest"/);
      }
    });
  });
});
