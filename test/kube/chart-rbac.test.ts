import { Testing } from 'cdk8s';
import { HtpasswdSource, TrustedRegistryChart } from '../../src';
import { Manifest } from '../util/manifests';
import { describeWithKube, impersonating, KubeClient, useExclusiveCluster } from './kube-fixture';

// Issue 11 on a real API server: what every ServiceAccount of the chart may do, as the real RBAC
// authorizer evaluates the chart's Roles and bindings. For each ServiceAccount and namespace, the
// rules the server reports (SelfSubjectRulesReview, impersonating the ServiceAccount) beyond what
// any ServiceAccount gets from the cluster's defaults must be exactly the intended ones; cluster-wide
// requests, which no namespace's rules show, are asked one by one (SubjectAccessReview).

const NAMESPACE = 'rbac-registry';
const CONSUMERS = ['rbac-team-a', 'rbac-team-b'];
/** A consumer namespace the chart was not given, and the cluster's own namespaces. */
const OTHER_NAMESPACES = ['rbac-team-c', 'default', 'kube-system', 'kube-public', 'kube-node-lease'];
const NAMESPACES = [NAMESPACE, ...CONSUMERS, ...OTHER_NAMESPACES];
const APPLIED_KINDS = ['Namespace', 'ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'];

const GENERATOR = `${NAMESPACE}/registry-credentials`;
const PULL_ACCESS = `${NAMESPACE}/${NAMESPACE}-pull-access`;
const RESOLVER = `kube-system/${NAMESPACE}-registry-node-trust`;
/** The registry pods' ServiceAccount (no token mounted, no Role). */
const REGISTRY = `${NAMESPACE}/default`;

/** The chart under test: generated credentials, pull access for two namespaces, NodeTrust. */
function chartManifests(): Manifest[] {
  const chart = new TrustedRegistryChart(Testing.app(), 'rbac', {
    namespace: NAMESPACE,
    registry: { htpasswd: HtpasswdSource.generated() },
    nodeTrust: { caConfigMapName: 'registry-ca' },
    pullNamespaces: CONSUMERS,
  });
  return Testing.synth(chart) as Manifest[];
}

/**
 * The intended permissions, written out by hand (not read from the manifests): ServiceAccount →
 * namespace → `verb resource[/name]`. A namespace not listed: nothing.
 */
const INTENDED: Record<string, Record<string, string[]>> = {
  [GENERATOR]: {
    // Create cannot be limited by name in RBAC: the SecretWritePolicy limits it (secret-write-policy.test.ts).
    [NAMESPACE]: ['create secrets', ...['registry-htpasswd', 'registry-push', 'registry-pull'].flatMap((name) => [`get secrets/${name}`, `update secrets/${name}`])],
  },
  [PULL_ACCESS]: {
    [NAMESPACE]: ['get secrets/registry-pull'],
    ...Object.fromEntries(CONSUMERS.map((namespace) => [namespace, [
      'create secrets', 'get secrets/registry-pull', 'update secrets/registry-pull', 'get serviceaccounts/default', 'patch serviceaccounts/default',
    ]])),
  },
  [RESOLVER]: {
    [NAMESPACE]: ['get services/registry'],
  },
  [REGISTRY]: {},
};

const username = (serviceAccount: string) => `system:serviceaccount:${serviceAccount.replace('/', ':')}`;

/** A rules review's resource rules as sorted `verb group/resource[/name]` entries. */
function flatten(resourceRules: any[]): string[] {
  const entries = new Set<string>();
  for (const rule of resourceRules) {
    for (const verb of rule.verbs) {
      for (const group of rule.apiGroups ?? ['']) {
        for (const resource of rule.resources ?? []) {
          const names: string[] = rule.resourceNames?.length ? rule.resourceNames : [''];
          for (const name of names) entries.add(`${verb} ${group ? `${group}/` : ''}${resource}${name ? `/${name}` : ''}`);
        }
      }
    }
  }
  return [...entries].sort();
}

/** What the server says `user` may do in `namespace`, asked as that user. */
async function rulesOf(client: KubeClient, user: string, namespace: string): Promise<{ rules: string[]; incomplete: boolean }> {
  const response = await client.expectOk('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } },
    headers: impersonating(user),
  });
  return { rules: flatten(response.body.status.resourceRules ?? []), incomplete: response.body.status.incomplete };
}

/** Whether the authorizer allows `serviceAccount` one request (namespace '' = every namespace or cluster-scoped). */
async function allowed(client: KubeClient, serviceAccount: string, verb: string, resource: string, namespace: string, name?: string): Promise<boolean> {
  const [saNamespace] = serviceAccount.split('/');
  const [group, plural] = resource.includes('/') ? resource.split('/') : ['', resource];
  const response = await client.expectOk('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: username(serviceAccount),
        groups: ['system:serviceaccounts', `system:serviceaccounts:${saNamespace}`, 'system:authenticated'],
        resourceAttributes: { verb, group, resource: plural, namespace, ...(name ? { name } : {}) },
      },
    },
  });
  return response.body.status.allowed === true;
}

describeWithKube('the chart\'s ServiceAccounts as the real RBAC authorizer sees them', (cluster) => {
  const client = useExclusiveCluster(cluster);
  const manifests = chartManifests();
  const applied = manifests.filter((m) => APPLIED_KINDS.includes(m.kind));
  /** A ServiceAccount no binding names: what every ServiceAccount gets from the cluster's defaults. */
  const nobody = 'system:serviceaccount:rbac-nobody:nobody';
  const baseline = new Map<string, string[]>();

  beforeAll(async () => {
    for (const namespace of NAMESPACES) await client.ensureNamespace(namespace);
    await client.applyServerSide(applied);
    for (const namespace of NAMESPACES) {
      const { rules, incomplete } = await rulesOf(client, nobody, namespace);
      expect(incomplete).toBe(false);
      baseline.set(namespace, rules);
    }
    // RBAC's informers follow the new Roles within moments: wait until the last one counts.
    await client.waitFor('the chart\'s RBAC to reach the authorizer', async () => allowed(client, RESOLVER, 'get', 'services', NAMESPACE, 'registry'));
  }, 300_000);

  afterAll(async () => {
    // The resolver's ServiceAccount lives in kube-system, which stays; the rest goes with its namespace.
    for (const manifest of applied.filter((m) => m.kind === 'ServiceAccount' && m.metadata.namespace === 'kube-system')) {
      await client.request('DELETE', `/api/v1/namespaces/kube-system/serviceaccounts/${manifest.metadata.name}`);
    }
    for (const namespace of [NAMESPACE, ...CONSUMERS, 'rbac-team-c']) await client.request('DELETE', `/api/v1/namespaces/${namespace}`);
  }, 120_000);

  test('the cluster\'s defaults give a ServiceAccount nothing on any namespaced resource', () => {
    // So that "beyond the baseline" below cannot hide a permission of the chart.
    for (const namespace of NAMESPACES) {
      expect(baseline.get(namespace)!.filter((rule) => !/ (authorization|authentication)\.k8s\.io\/self\w+$/.test(rule))).toEqual([]);
    }
  });

  test('the chart creates exactly the ServiceAccounts the table covers', () => {
    const chartServiceAccounts = manifests.filter((m) => m.kind === 'ServiceAccount').map((m) => `${m.metadata.namespace}/${m.metadata.name}`);
    expect(chartServiceAccounts.sort()).toEqual([GENERATOR, PULL_ACCESS, RESOLVER].sort());
  });

  describe.each(Object.keys(INTENDED))('%s', (serviceAccount) => {
    test.each(NAMESPACES)('in namespace %s: exactly the intended rules', async (namespace) => {
      const { rules, incomplete } = await rulesOf(client, username(serviceAccount), namespace);
      expect(incomplete).toBe(false);
      const beyondDefaults = rules.filter((rule) => !baseline.get(namespace)!.includes(rule));
      expect(beyondDefaults).toEqual([...(INTENDED[serviceAccount][namespace] ?? [])].sort());
    });

    test('nothing cluster-wide: no list, watch or write of Secrets, Services or ServiceAccounts in every namespace, no nodes, no RBAC', async () => {
      const requests: Array<[string, string]> = [
        ...['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'].flatMap((verb) => ['secrets', 'services', 'serviceaccounts'].map((resource) => [verb, resource] as [string, string])),
        ['create', 'serviceaccounts/token'], ['get', 'nodes'], ['list', 'nodes'], ['create', 'pods'], ['escalate', 'rbac.authorization.k8s.io/clusterroles'],
        ['bind', 'rbac.authorization.k8s.io/clusterroles'], ['create', 'rbac.authorization.k8s.io/clusterrolebindings'], ['create', 'certificates.k8s.io/certificatesigningrequests'],
      ];
      const granted: string[] = [];
      for (const [verb, resource] of requests) {
        if (await allowed(client, serviceAccount, verb, resource, '')) granted.push(`${verb} ${resource}`);
      }
      expect(granted).toEqual([]);
    });
  });

  test('the review\'s cases, one request each', async () => {
    const cases: Array<[string, string, string, string, string | undefined, boolean]> = [
      // NodeTrust's resolver reads the registry Service by name, nothing else.
      [RESOLVER, 'get', 'services', NAMESPACE, 'registry', true],
      [RESOLVER, 'get', 'services', NAMESPACE, 'registry-push', false],
      [RESOLVER, 'list', 'services', NAMESPACE, undefined, false],
      [RESOLVER, 'watch', 'services', NAMESPACE, undefined, false],
      [RESOLVER, 'update', 'services', NAMESPACE, 'registry', false],
      [RESOLVER, 'get', 'secrets', NAMESPACE, 'registry-pull', false],
      [RESOLVER, 'get', 'secrets', 'kube-system', undefined, false],
      [RESOLVER, 'get', 'endpoints', NAMESPACE, 'registry', false],
      [RESOLVER, 'get', 'configmaps', 'kube-system', undefined, false],
      // PullAccess writes only in the namespaces it was given.
      [PULL_ACCESS, 'create', 'secrets', 'kube-system', undefined, false],
      [PULL_ACCESS, 'create', 'secrets', 'rbac-team-c', undefined, false],
      [PULL_ACCESS, 'create', 'secrets', 'rbac-team-a', undefined, true],
      [PULL_ACCESS, 'update', 'secrets', 'rbac-team-a', 'registry-push', false],
      [PULL_ACCESS, 'update', 'secrets', NAMESPACE, 'registry-pull', false],
      [PULL_ACCESS, 'get', 'secrets', NAMESPACE, 'registry-push', false],
      [PULL_ACCESS, 'patch', 'serviceaccounts', 'rbac-team-a', 'admin', false],
      [PULL_ACCESS, 'create', 'serviceaccounts/token', 'rbac-team-a', 'default', false],
      // The generator writes only in the registry's namespace.
      [GENERATOR, 'create', 'secrets', 'kube-system', undefined, false],
      [GENERATOR, 'update', 'secrets', NAMESPACE, 'registry-tls', false],
      [GENERATOR, 'list', 'secrets', NAMESPACE, undefined, false],
      [GENERATOR, 'create', 'pods', NAMESPACE, undefined, false],
    ];
    const answers = [];
    for (const [serviceAccount, verb, resource, namespace, name, expected] of cases) {
      answers.push({ request: `${serviceAccount} ${verb} ${resource} in ${namespace}${name ? ` named ${name}` : ''}`, allowed: await allowed(client, serviceAccount, verb, resource, namespace, name), expected });
    }
    expect(answers.filter((a) => a.allowed !== a.expected)).toEqual([]);
  });
});
