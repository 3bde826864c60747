import { AdmissionCase } from '../policy/admission-corpus';
import { AdmissionRequest, AdmissionSimulator } from '../policy/admission-harness';
import { SECRET_WRITE_CORPUS, SECRET_WRITE_SETUP, secretWriteCorpusManifests } from '../access/secret-write-corpus';
import { Manifest } from '../util/manifests';
import { collectionPath, describeWithKube, impersonating, KubeClient, useExclusiveCluster } from './kube-fixture';
import { POLICY_MESSAGE } from './real-server-corpus';

// Issue 11, finding 1 on a real API server: every request of the SecretWritePolicy corpus
// (test/access/secret-write-corpus.ts) sent as the real API call of its user (impersonated by the
// admin), against the chart's own SecretWritePolicy objects, ServiceAccounts and RBAC.
//
// Two phases on the same requests:
// - policy alone: each user the corpus names is also granted every write on Secrets and
//   ServiceAccounts cluster-wide, so RBAC lets everything through and the verdict is the
//   policy's; it must be the corpus's decision and exactly the JS harness's denial.
// - as deployed: the chart's RBAC only; every refused case must be refused (by RBAC or by the
//   policy, as `AS_DEPLOYED` says), every Job's real work admitted.

const POLICIES = '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies';
const BINDINGS = '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings';
const BROAD_GRANT = 'secret-write-corpus-every-write';
const RBAC_DENIAL = /is forbidden: User "[^"]+" cannot (create|update|patch) resource "(secrets|serviceaccounts)" in API group "" in the namespace "[^"]+"/;
/** The kinds the test applies: the policies and what RBAC needs, none of the workloads (no kubelet runs them). */
const APPLIED_KINDS = ['ServiceAccount', 'Role', 'RoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'];

/** Requests of each ServiceAccount only its policy refuses (by name, its first rule): they show when the policies are in force. */
const PROBES = ['copy Job SA creates another dockerconfigjson Secret in a consumer namespace', 'generator SA creates a service-account token in its namespace'];

type Layer = 'admit' | 'rbac' | 'policy';

/**
 * Who refuses each corpus request with only the chart's RBAC: RBAC first (no Role in that
 * namespace, or not that verb or name), else the policy (what RBAC cannot see: name on create,
 * type, keys, fields).
 */
const AS_DEPLOYED: Record<string, Layer> = {
  'copy Job creates the pull Secret copy': 'admit',
  'copy Job replaces the copy after a rotation': 'admit',
  'copy Job adds the copy to a listed ServiceAccount': 'admit',
  'copy Job adds the first imagePullSecrets entry': 'admit',
  'copy Job SA creates a bootstrap token in kube-system': 'rbac',
  'copy Job SA creates a service-account token named like the pull Secret': 'policy',
  'copy Job SA creates an Opaque Secret named like the pull Secret': 'policy',
  'copy Job SA creates another dockerconfigjson Secret in a consumer namespace': 'policy',
  'copy Job SA writes the pull Secret name in a namespace it was not granted': 'rbac',
  'copy Job SA overwrites the source pull Secret': 'rbac',
  'copy Job SA adds a key to the copy': 'policy',
  'copy Job SA makes the copy immutable': 'policy',
  'copy Job SA adds another Secret to a ServiceAccount': 'policy',
  'copy Job SA lists a token Secret in a ServiceAccount\'s secrets': 'policy',
  'copy Job SA turns on token automounting': 'policy',
  'copy Job SA annotates a ServiceAccount': 'policy',
  'copy Job SA updates a ServiceAccount it was not given': 'rbac',
  'copy Job SA creates a ServiceAccount': 'rbac',
  'generator creates the htpasswd Secret': 'admit',
  'generator replaces the push Secret': 'admit',
  'generator creates the pull Secret': 'admit',
  'generator SA creates a service-account token in its namespace': 'policy',
  'generator SA writes the htpasswd Secret as a token': 'policy',
  'generator SA writes the push Secret as Opaque': 'policy',
  'generator SA adds a key to the htpasswd Secret': 'policy',
  'generator SA writes a Secret of its name in kube-system': 'rbac',
  'generator SA updates a ServiceAccount': 'rbac',
  'another ServiceAccount creates a token Secret': 'rbac',
  'a cluster admin creates a bootstrap token': 'admit',
  'a ServiceAccount of the same name in another namespace writes any Secret': 'rbac',
};

const PULL_ACCESS_USER = `system:serviceaccount:${SECRET_WRITE_SETUP.namespace}:${SECRET_WRITE_SETUP.pullAccessName}`;
const DOCKER_CONFIG_SECRET = {
  apiVersion: 'v1',
  kind: 'Secret',
  type: 'kubernetes.io/dockerconfigjson',
  data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') },
};

/**
 * Requests the corpus cannot express as admission requests, tried with the chart's RBAC only as
 * the copy Job's ServiceAccount: other API calls that write or remove a Secret.
 */
const BEYOND_THE_CORPUS: Record<string, (client: KubeClient) => Promise<RealOutcome>> = {
  // The server names the object before admission: the policy sees (and refuses) the generated name.
  'a Secret named by generateName after the pull Secret': async (client) => outcome(await client.request('POST', '/api/v1/namespaces/team-a/secrets', {
    body: { ...DOCKER_CONFIG_SECRET, metadata: { generateName: 'registry-pull' } },
    headers: impersonating(PULL_ACCESS_USER),
  })),
  // Server-side apply is a PATCH: RBAC's verb patch, which no Role of the chart grants on Secrets.
  'a bootstrap token created by server-side apply': async (client) => outcome(await client.request('PATCH', '/api/v1/namespaces/team-a/secrets/bootstrap-token-abcdef?fieldManager=attacker', {
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bootstrap-token-abcdef' }, type: 'bootstrap.kubernetes.io/token', stringData: { 'token-id': 'abcdef', 'token-secret': '0123456789abcdef' } },
    contentType: 'application/apply-patch+yaml',
    headers: impersonating(PULL_ACCESS_USER),
  })),
  // The policy does not match DELETE: RBAC alone keeps the copy Job from removing Secrets.
  'deleting the pull Secret copy': async (client) => {
    await client.request('POST', '/api/v1/namespaces/team-a/secrets', { body: { ...DOCKER_CONFIG_SECRET, metadata: { name: 'registry-pull' } } });
    const response = await client.request('DELETE', '/api/v1/namespaces/team-a/secrets/registry-pull', { headers: impersonating(PULL_ACCESS_USER) });
    await client.request('DELETE', '/api/v1/namespaces/team-a/secrets/registry-pull');
    return outcome(response);
  },
};

function outcome(response: { status: number; body: any }): RealOutcome {
  const admitted = response.status >= 200 && response.status <= 299;
  return { status: response.status, admitted, message: admitted ? undefined : String(response.body?.message ?? response.body) };
}

/** What the real server answered to one corpus request. */
interface RealOutcome {
  readonly status: number;
  readonly admitted: boolean;
  readonly message?: string;
}

function objectPath(request: AdmissionRequest): string {
  return `${collectionPath(request.resource, request.namespace)}/${(request.object as any).metadata.name}`;
}

/** The objects of the corpus setup the test applies (no Jobs, Deployments, ...). */
function appliedManifests(): Manifest[] {
  return (secretWriteCorpusManifests() as Manifest[]).filter((m) => APPLIED_KINDS.includes(m.kind));
}

/**
 * Puts the object the request writes into the state before the request, as the admin: absent for
 * a CREATE of a Secret, `oldObject` for an UPDATE. ServiceAccounts are replaced in place (the
 * namespace's `default` one is the controller's).
 */
async function prepare(client: KubeClient, request: AdmissionRequest): Promise<void> {
  const path = objectPath(request);
  if (request.resource.resource === 'secrets') {
    await client.request('DELETE', `${path}?gracePeriodSeconds=0`);
    if (request.operation === 'UPDATE') await client.expectOk('POST', collectionPath(request.resource, request.namespace), { body: request.oldObject });
    return;
  }
  const before = (request.oldObject ?? request.object) as any;
  const current = await client.request('GET', path);
  if (current.status === 404) {
    await client.expectOk('POST', collectionPath(request.resource, request.namespace), { body: before });
  } else {
    await client.expectOk('PUT', path, { body: { ...before, metadata: { ...before.metadata, resourceVersion: current.body.metadata.resourceVersion } } });
  }
}

/**
 * Sends the request as the API call its user's Job makes: a Secret is created with POST and
 * replaced with PUT (verbs create, update), a ServiceAccount is changed with a JSON merge PATCH
 * (verb patch, what `kubectl patch` sends) or created with POST.
 */
async function send(client: KubeClient, request: AdmissionRequest): Promise<RealOutcome> {
  const headers = request.userInfo ? impersonating(request.userInfo.username) : {};
  const body = request.object as any;
  let response;
  if (request.operation === 'CREATE') {
    response = await client.request('POST', collectionPath(request.resource, request.namespace), { body, headers });
  } else if (request.resource.resource === 'secrets') {
    const current = await client.expectOk('GET', objectPath(request));
    response = await client.request('PUT', objectPath(request), { body: { ...body, metadata: { ...body.metadata, resourceVersion: current.body.metadata.resourceVersion } }, headers });
  } else {
    response = await client.request('PATCH', objectPath(request), { body, contentType: 'application/merge-patch+json', headers });
  }
  return outcome(response);
}

/** Removes a Secret the request may have written (ServiceAccounts stay: `prepare` resets them). */
async function cleanUp(client: KubeClient, request: AdmissionRequest): Promise<void> {
  if (request.resource.resource === 'secrets') await client.request('DELETE', `${objectPath(request)}?gracePeriodSeconds=0`);
}

/** Every user the corpus sends requests as. */
function corpusUsers(): string[] {
  return [...new Set(SECRET_WRITE_CORPUS.flatMap((c) => (c.request.userInfo ? [c.request.userInfo.username] : [])))];
}

/** Subjects of RBAC bindings for ServiceAccount user names. */
function serviceAccountSubjects(usernames: string[]) {
  return usernames.map((username) => {
    const [, , namespace, name] = username.split(':');
    return { kind: 'ServiceAccount', namespace, name };
  });
}

describeWithKube('the SecretWritePolicy corpus on a real API server, impersonating the chart\'s ServiceAccounts', (cluster) => {
  const client = useExclusiveCluster(cluster);
  const simulator = new AdmissionSimulator(secretWriteCorpusManifests());
  const manifests = appliedManifests();
  const policies = manifests.filter((m) => m.kind === 'ValidatingAdmissionPolicy');
  const beyondTheCorpus = new Map<string, RealOutcome>();
  const results = { policyAlone: new Map<AdmissionCase, RealOutcome>(), asDeployed: new Map<AdmissionCase, RealOutcome>() };
  const namespaces = [...new Set([
    SECRET_WRITE_SETUP.namespace,
    ...SECRET_WRITE_CORPUS.map((c) => c.request.namespace),
    ...manifests.flatMap((m) => (m.metadata.namespace ? [m.metadata.namespace] : [])),
  ])];
  const createdNamespaces = namespaces.filter((n) => n !== 'kube-system');

  async function runAll(into: Map<AdmissionCase, RealOutcome>): Promise<void> {
    for (const admissionCase of SECRET_WRITE_CORPUS) {
      await prepare(client, admissionCase.request);
      into.set(admissionCase, await send(client, admissionCase.request));
      await cleanUp(client, admissionCase.request);
    }
  }

  /** Waits until the policies judge requests: a write of another Secret by each ServiceAccount is refused by its policy. */
  async function awaitPolicies(): Promise<void> {
    const probes = SECRET_WRITE_CORPUS.filter((c) => PROBES.includes(c.name));
    expect(probes).toHaveLength(PROBES.length);
    for (const probe of probes) {
      await client.waitFor(`the SecretWritePolicy of ${probe.request.userInfo!.username} to be in force`, async () => {
        await prepare(client, probe.request);
        const outcome = await send(client, probe.request);
        await cleanUp(client, probe.request);
        return !outcome.admitted && POLICY_MESSAGE.test(outcome.message ?? '');
      });
    }
  }

  beforeAll(async () => {
    for (const namespace of namespaces) await client.ensureNamespace(namespace);
    await client.applyServerSide(manifests);
    // The ServiceAccount the corpus updates without being allowed to.
    await client.request('POST', '/api/v1/namespaces/team-a/serviceaccounts', { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'admin' } } });
    for (const namespace of SECRET_WRITE_SETUP.pullNamespaces) {
      await client.waitFor(`ServiceAccount ${namespace}/default`, async () => (await client.request('GET', `/api/v1/namespaces/${namespace}/serviceaccounts/default`)).status === 200);
    }
    await awaitPolicies();

    await runAll(results.asDeployed);
    for (const [name, attempt] of Object.entries(BEYOND_THE_CORPUS)) beyondTheCorpus.set(name, await attempt(client));

    await client.expectOk('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: BROAD_GRANT },
        rules: [{ apiGroups: [''], resources: ['secrets', 'serviceaccounts'], verbs: ['get', 'create', 'update', 'patch'] }],
      },
    });
    await client.expectOk('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: BROAD_GRANT },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: BROAD_GRANT },
        subjects: serviceAccountSubjects(corpusUsers()),
      },
    });
    // RBAC's cache follows the binding within moments: wait until a write only the grant allows passes RBAC.
    const bootstrap = SECRET_WRITE_CORPUS.find((c) => c.name === 'copy Job SA creates a bootstrap token in kube-system')!;
    await client.waitFor('the broad grant to reach the authorizer', async () => {
      const outcome = await send(client, bootstrap.request);
      await cleanUp(client, bootstrap.request);
      return !RBAC_DENIAL.test(outcome.message ?? '');
    });

    await runAll(results.policyAlone);
  }, 600_000);

  afterAll(async () => {
    simulator.close();
    await client.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${BROAD_GRANT}`);
    await client.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${BROAD_GRANT}`);
    for (const policy of policies) {
      await client.request('DELETE', `${BINDINGS}/${policy.metadata.name}`);
      await client.request('DELETE', `${POLICIES}/${policy.metadata.name}`);
    }
    for (const admissionCase of SECRET_WRITE_CORPUS) await cleanUp(client, admissionCase.request);
    for (const namespace of createdNamespaces) await client.request('DELETE', `/api/v1/namespaces/${namespace}`);
  }, 300_000);

  test('the table of who refuses what names every corpus case', () => {
    expect(Object.keys(AS_DEPLOYED).sort()).toEqual(SECRET_WRITE_CORPUS.map((c) => c.name).sort());
    // Every decision of the table is the corpus's, whoever takes it.
    SECRET_WRITE_CORPUS.filter((c) => c.decision === 'refuse').forEach((c) => expect([c.name, AS_DEPLOYED[c.name]]).not.toEqual([c.name, 'admit']));
  });

  test('beyond the corpus: a Secret named by generateName is refused by the policy under the generated name', () => {
    const real = beyondTheCorpus.get('a Secret named by generateName after the pull Secret')!;
    expect(real.status).toBe(403);
    expect(real.message).toMatch(/ValidatingAdmissionPolicy 'apps-pull\.registry\.secret-writes\.cdk8s-trusted-registry\.io' with binding '[^']+' denied request: ServiceAccount registry\/apps-pull may write only the Secrets team-a\/registry-pull, team-b\/registry-pull, not team-a\/registry-pull[a-z0-9]{5}$/);
  });

  test('beyond the corpus: server-side apply and DELETE of Secrets are refused by RBAC', () => {
    for (const name of ['a bootstrap token created by server-side apply', 'deleting the pull Secret copy']) {
      const real = beyondTheCorpus.get(name)!;
      expect({ name, status: real.status }).toEqual({ name, status: 403 });
      expect(real.message).toMatch(/is forbidden: User "system:serviceaccount:registry:apps-pull" cannot (patch|delete) resource "secrets"/);
    }
  });

  describe.each(SECRET_WRITE_CORPUS.map((c) => [c.decision, c.name, c] as const))('%s: %s', (_decision, _name, admissionCase) => {
    test('policy alone (RBAC allows every write): the real server gives the corpus\'s decision and the harness\'s denial', () => {
      const real = results.policyAlone.get(admissionCase)!;
      const harness = simulator.review(admissionCase.request);
      expect({ admitted: real.admitted, denial: real.admitted ? undefined : POLICY_MESSAGE.exec(real.message ?? '')?.[0] ?? `(not the policy) ${real.status}: ${real.message}` })
        .toEqual({ admitted: harness.allowed, denial: harness.denial });
      expect(real.admitted).toBe(admissionCase.decision === 'admit');
      if (!real.admitted) expect(real.message).toContain(admissionCase.reason);
    });

    test(`as deployed (the chart's RBAC only): ${AS_DEPLOYED[admissionCase.name]}`, () => {
      const real = results.asDeployed.get(admissionCase)!;
      const layer = AS_DEPLOYED[admissionCase.name];
      if (layer === 'admit') {
        expect(real).toEqual({ status: admissionCase.request.operation === 'CREATE' ? 201 : 200, admitted: true, message: undefined });
      } else if (layer === 'rbac') {
        expect(real.status).toBe(403);
        expect(real.message).toMatch(RBAC_DENIAL);
      } else {
        expect(real.status).toBe(403);
        expect(POLICY_MESSAGE.exec(real.message ?? '')?.[0]).toBe(simulator.review(admissionCase.request).denial);
      }
    });
  });
});
