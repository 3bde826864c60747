import { Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { HtpasswdSource, PrivateRegistry, PullAccess, PullAccessOptions, PullCredentials, TrustedRegistryChart } from '../../src';
import { COPY_PULL_SECRET_SCRIPT, GENERATION_ANNOTATION } from '../../src/access/credentials-scripts';
import { PULL_ACCESS_LABEL, PULL_SECRET_WAIT_SECONDS } from '../../src/access/pull-access';
import { IMAGES } from '../../src/images';
import { findOne, Manifest, synth, validateAgainstKubernetesSchemas } from '../util/manifests';
import { expectRestrictedPod } from '../util/pod-security';

const HOST = 'registry.example.com';

function chart(): Chart {
  return new Chart(Testing.app(), 'test', { namespace: 'registry' });
}

function generatedRegistry(c: Chart, generation = 1): PrivateRegistry {
  return new PrivateRegistry(c, 'Registry', { host: HOST, htpasswd: HtpasswdSource.generated({ generation }) });
}

function grant(options: PullAccessOptions, generation = 1): Manifest[] {
  const c = chart();
  generatedRegistry(c, generation).grantPull('Apps', options);
  const manifests = synth(c);
  validateAgainstKubernetesSchemas(manifests);
  return manifests;
}

function env(job: Manifest): Record<string, string> {
  return Object.fromEntries(job.spec.template.spec.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]));
}

/** The objects of the grant (the registry's and the generator's left out). */
function accessObjects(manifests: Manifest[]): Manifest[] {
  return manifests.filter((m) => (m.metadata as { labels?: Record<string, string> }).labels?.[PULL_ACCESS_LABEL] !== undefined);
}

describe('PullAccess', () => {
  test('copies the generated pull Secret in-cluster, with a Role per consumer namespace and nothing secret synthesized', () => {
    // WHEN
    const manifests = grant({ namespaces: ['team-a', 'team-b'], serviceAccounts: ['default', 'builder'] });

    // THEN
    const objects = accessObjects(manifests);
    const name = findOne(objects, 'ServiceAccount').metadata.name!;
    expect(objects.map((m) => `${m.kind}/${m.metadata.namespace}/${m.metadata.name}`)).toEqual([
      `ServiceAccount/registry/${name}`,
      `Role/registry/${name}-source`,
      `RoleBinding/registry/${name}-source`,
      `Role/team-a/${name}`,
      `RoleBinding/team-a/${name}`,
      `Role/team-b/${name}`,
      `RoleBinding/team-b/${name}`,
      expect.stringMatching(new RegExp(`^Job/registry/${name}-[0-9a-f]{8}$`)),
    ]);
    expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);

    expect(findOne(objects, 'Role', `${name}-source`).rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['registry-pull'], verbs: ['get'] },
    ]);
    const teamA = objects.find((m) => m.kind === 'Role' && m.metadata.namespace === 'team-a')!;
    expect(teamA.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['registry-pull'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['serviceaccounts'], resourceNames: ['default', 'builder'], verbs: ['get', 'patch'] },
    ]);
    const binding = objects.find((m) => m.kind === 'RoleBinding' && m.metadata.namespace === 'team-b')!;
    expect(binding).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: 'registry' }],
    });

    const job = findOne(objects, 'Job');
    const pod = job.spec.template.spec;
    expectRestrictedPod(pod);
    expect(pod.serviceAccountName).toBe(name);
    expect(pod.containers[0].image).toBe(IMAGES.kubectl);
    expect(pod.containers[0].command).toEqual(['/shell/sh', '-c', COPY_PULL_SECRET_SCRIPT]);
    expect(pod.initContainers.map((c: { image: string }) => c.image)).toEqual([IMAGES.shell]);
    expect(job.spec.activeDeadlineSeconds).toBe(PullAccess.ACTIVE_DEADLINE_SECONDS);
    expect(PullAccess.ACTIVE_DEADLINE_SECONDS).toBeGreaterThan(PULL_SECRET_WAIT_SECONDS);
    // The API token is mounted into the kubectl container only, and the credentials pass through memory.
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.initContainers[0].volumeMounts).toEqual([{ name: 'shell', mountPath: '/shell' }]);
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true });
    expect(pod.volumes).toContainEqual({ name: 'work', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
    expect(job.spec.template.metadata.annotations).toEqual({ [GENERATION_ANNOTATION]: '1' });
    expect(env(job)).toEqual({
      PATH: '/shell:/usr/local/bin:/usr/bin:/bin',
      HOME: '/tmp',
      SOURCE_NAMESPACE: 'registry',
      SOURCE_SECRET: 'registry-pull',
      SOURCE_GENERATION: '1',
      SOURCE_WAIT_SECONDS: String(PULL_SECRET_WAIT_SECONDS),
      TARGET_SECRET: 'registry-pull',
      TARGETS: 'team-a default builder\nteam-b default builder',
      WORK_DIR: '/work',
    });
  });

  test('exposes the imagePullSecrets a consumer pod adds, also through cdk8s-plus', () => {
    // GIVEN
    const access = generatedRegistry(chart()).grantPull('Apps', { namespaces: ['team-a'], secretName: 'registry-credentials' });
    const consumer = new Chart(Testing.app(), 'consumer', { namespace: 'team-a' });

    // WHEN
    new kplus.Pod(consumer, 'App', {
      dockerRegistryAuth: kplus.Secret.fromSecretName(consumer, 'Pull', access.secretName),
      containers: [{ image: `${HOST}/team/app@sha256:${'a'.repeat(64)}` }],
    });

    // THEN
    expect(access.imagePullSecrets).toEqual([{ name: 'registry-credentials' }]);
    expect(findOne(synth(consumer), 'Pod').spec.imagePullSecrets).toEqual(access.imagePullSecrets);
    expect(access.namespaces).toEqual(['team-a']);
  });

  test('needs no ServiceAccount permission when no ServiceAccount is listed', () => {
    const role = accessObjects(grant({ namespaces: ['team-a'] })).find((m) => m.kind === 'Role' && m.metadata.namespace === 'team-a')!;
    expect(role.rules.map((rule: { resources: string[] }) => rule.resources)).toEqual([['secrets'], ['secrets']]);
  });

  test('runs a new Job when the namespaces or the generation change, and the same Job otherwise', () => {
    const jobName = (options: PullAccessOptions, generation = 1) => findOne(accessObjects(grant(options, generation)), 'Job').metadata.name;
    const base = jobName({ namespaces: ['team-a'] });
    expect(jobName({ namespaces: ['team-a'] })).toBe(base);
    expect(jobName({ namespaces: ['team-a', 'team-b'] })).not.toBe(base);
    expect(jobName({ namespaces: ['team-a'], serviceAccounts: ['default'] })).not.toBe(base);
    expect(jobName({ namespaces: ['team-a'] }, 2)).not.toBe(base);
  });

  test('copies a Secret you made when given PullCredentials.fromSecretName()', () => {
    // GIVEN
    const c = chart();

    // WHEN
    new PullAccess(c, 'Apps', { credentials: PullCredentials.fromSecretName('team-pull'), namespaces: ['team-a'], name: 'apps-pull' });

    // THEN
    const manifests = synth(c);
    validateAgainstKubernetesSchemas(manifests);
    const job = findOne(manifests, 'Job');
    expect(job.metadata.name).toMatch(/^apps-pull-[0-9a-f]{8}$/);
    expect(job.spec.template.metadata.annotations).toBeUndefined();
    expect(env(job)).toMatchObject({ SOURCE_SECRET: 'team-pull', SOURCE_GENERATION: '', TARGET_SECRET: 'team-pull' });
    expect(findOne(manifests, 'Role', 'apps-pull-source').rules[0].resourceNames).toEqual(['team-pull']);
  });

  test('grants 500 namespaces with two objects each', () => {
    // GIVEN
    const namespaces = Array.from({ length: 500 }, (_, i) => `team-${i}`);

    // WHEN
    const objects = accessObjects(grant({ namespaces, serviceAccounts: ['default'] }));

    // THEN
    expect(objects).toHaveLength(4 + 2 * 500);
    expect(new Set(objects.filter((m) => m.kind === 'RoleBinding').map((m) => m.metadata.namespace)).size).toBe(501);
    expect(env(findOne(objects, 'Job')).TARGETS.split('\n')).toHaveLength(500);
  });

  describe('refuses a grant to', () => {
    const refusal = (namespace: string) => `'namespaces' must not include "${namespace}": it is a system namespace, the registry's own or one the admission policy exempts`;

    test.each(['kube-system', 'kube-public', 'kube-node-lease'])('fails if pull access is granted to the system namespace %s, even when the policy does not exempt it', (namespace) => {
      expect(() => grant({ namespaces: ['team-a', namespace], exemptNamespaces: [] })).toThrow(refusal(namespace));
    });

    test('fails if pull access is granted to a namespace the admission policy exempts', () => {
      expect(() => grant({ namespaces: ['team-a', 'monitoring'], exemptNamespaces: ['monitoring'] }))
        .toThrow(`${refusal('monitoring')} (kube-system, kube-public, kube-node-lease, registry, monitoring); pods there need no pull Secret to be admitted, and letting a Job write Secrets there opens a door into the cluster's own components, got ["team-a","monitoring"]`);
    });

    test('fails if pull access is granted to the registry\'s own namespace, which the policy always exempts', () => {
      expect(() => grant({ namespaces: ['registry'] })).toThrow(refusal('registry'));
    });

    test('fails if pull access is granted to a namespace TrustedRegistryChart\'s policy exempts', () => {
      // GIVEN
      const c = new TrustedRegistryChart(Testing.app(), 'trusted-registry', {
        exemptNamespaces: ['kube-system', 'monitoring'],
        registry: { htpasswd: HtpasswdSource.generated() },
      });

      // WHEN / THEN
      expect(() => c.grantPull('Apps', { namespaces: ['team-a', 'monitoring'] })).toThrow(refusal('monitoring'));
      expect(() => new TrustedRegistryChart(Testing.app(), 'trusted-registry', { pullNamespaces: ['kube-system'], registry: { htpasswd: HtpasswdSource.generated() } }))
        .toThrow(refusal('kube-system'));
    });

    test('nothing for ordinary namespaces', () => {
      const c = new TrustedRegistryChart(Testing.app(), 'trusted-registry', { registry: { htpasswd: HtpasswdSource.generated() } });
      const access = c.grantPull('Apps', { namespaces: ['team-a'] });
      expect(access.secretName).toBe('registry-pull');
      const manifests = synth(c);
      validateAgainstKubernetesSchemas(manifests);
      expect(manifests.map((m) => m.kind)).not.toContain('Secret');
    });
  });

  test('binds a SecretWritePolicy to its ServiceAccount that allows only the copies and the listed ServiceAccounts', () => {
    // WHEN
    const manifests = grant({ namespaces: ['team-a', 'team-b'], serviceAccounts: ['default'], name: 'apps-pull' });

    // THEN
    const policy = findOne(manifests, 'ValidatingAdmissionPolicy', 'apps-pull.registry.secret-writes.cdk8s-trusted-registry.io');
    expect(policy.metadata.namespace).toBeUndefined();
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(policy.spec.matchConstraints.resourceRules).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['secrets', 'serviceaccounts'] }]);
    expect(policy.spec.matchConditions).toEqual([{ name: 'from-the-service-account', expression: 'request.userInfo.username == "system:serviceaccount:registry:apps-pull"' }]);
    expect(findOne(manifests, 'ValidatingAdmissionPolicyBinding', 'apps-pull.registry.secret-writes.cdk8s-trusted-registry.io').spec)
      .toEqual({ policyName: 'apps-pull.registry.secret-writes.cdk8s-trusted-registry.io', validationActions: ['Deny'] });
  });

  test('fails if a namespace is listed twice', () => {
    expect(() => grant({ namespaces: ['team-a', 'team-b', 'team-a'] })).toThrow(`'namespaces' must not list the same value twice, got "team-a"`);
  });

  test('fails if no namespace is listed', () => {
    expect(() => grant({ namespaces: [] })).toThrow(`'namespaces' must list at least one namespace, got []`);
  });

  test.each(['Team-A', 'team_a', 'team.a', '-team', 'x'.repeat(64)])('fails if a namespace is not a DNS-1123 label: %s', (namespace) => {
    expect(() => grant({ namespaces: [namespace] }))
      .toThrow(`'namespaces[]' must be a Kubernetes namespace name (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit), got "${namespace}"`);
  });

  test.each(['Default', 'my_sa', ''])('fails if a ServiceAccount name is not a DNS-1123 subdomain: "%s"', (serviceAccount) => {
    expect(() => grant({ namespaces: ['team-a'], serviceAccounts: [serviceAccount] }))
      .toThrow(`'serviceAccounts[]' must be a Kubernetes object name (lowercase DNS subdomain: letters, digits, "-" and ".", at most 253 characters), got "${serviceAccount}"`);
  });

  test('fails if a ServiceAccount is listed twice', () => {
    expect(() => grant({ namespaces: ['team-a'], serviceAccounts: ['default', 'default'] })).toThrow(`'serviceAccounts' must not list the same value twice, got "default"`);
  });

  test('fails if the existing Secret is referenced with an empty name', () => {
    expect(() => PullCredentials.fromSecretName(''))
      .toThrow(`'pull secretName' must be a Kubernetes object name (lowercase DNS subdomain: letters, digits, "-" and ".", at most 253 characters), got ""`);
  });

  test('fails if the registry has no generated credentials and none are given', () => {
    const registry = new PrivateRegistry(chart(), 'Registry', { host: HOST });
    expect(() => registry.grantPull('Apps', { namespaces: ['team-a'] }))
      .toThrow(`'credentials' must be given to grantPull() when the registry's htpasswd is not HtpasswdSource.generated() (use PullCredentials.fromSecretName()), got undefined`);
  });

  test('uses the given credentials when the registry has no generated ones', () => {
    const registry = new PrivateRegistry(chart(), 'Registry', { host: HOST });
    const access = registry.grantPull('Apps', { namespaces: ['team-a'], credentials: PullCredentials.fromSecretName('team-pull') });
    expect(access.secretName).toBe('team-pull');
  });

  test('fails if the base name is too long for the Job name', () => {
    expect(() => grant({ namespaces: ['team-a'], name: 'x'.repeat(55) }))
      .toThrow(`'name' must be a DNS label of at most 54 characters (the Job adds a 9-character suffix), got "${'x'.repeat(55)}"`);
  });

  test('fails if the chart has no namespace', () => {
    expect(() => new PullAccess(Testing.chart(), 'Apps', { credentials: PullCredentials.fromSecretName('pull'), namespaces: ['team-a'] }))
      .toThrow(`'namespace' must be set on the Chart that contains a PullAccess (its Job runs there), got undefined`);
  });

  test('reads the generated Secret from the generator\'s namespace when the Job runs in another', () => {
    // GIVEN
    const app = Testing.app();
    const registry = generatedRegistry(new Chart(app, 'registry', { namespace: 'registry' }));
    const ops = new Chart(app, 'ops', { namespace: 'ops' });

    // WHEN
    new PullAccess(ops, 'Apps', { credentials: registry.credentials!, namespaces: ['team-a'], name: 'apps-pull' });

    // THEN
    const manifests = synth(ops);
    validateAgainstKubernetesSchemas(manifests);
    expect(findOne(manifests, 'Role', 'apps-pull-source').metadata.namespace).toBe('registry');
    expect(findOne(manifests, 'Job').metadata.namespace).toBe('ops');
    expect(env(findOne(manifests, 'Job')).SOURCE_NAMESPACE).toBe('registry');
    expect(findOne(manifests, 'RoleBinding', 'apps-pull-source').subjects).toEqual([{ kind: 'ServiceAccount', name: 'apps-pull', namespace: 'ops' }]);
  });
});
