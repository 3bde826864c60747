import { Chart, Testing } from 'cdk8s';
import { HtpasswdSource, SecretWritePolicy, TrustedRegistryChart } from '../../src';
import { Manifest, synth, validateAgainstKubernetesSchemas } from '../util/manifests';

const WRITE_VERBS = ['create', 'update', 'patch', '*'];

/** ServiceAccount user names that a Role or ClusterRole of the manifests lets write `resource`. */
function writers(manifests: Manifest[], resource: string): string[] {
  const roles = manifests.filter((m) => m.kind === 'Role' || m.kind === 'ClusterRole');
  const writes = (role: Manifest) => (role.rules as Array<{ resources?: string[]; verbs: string[] }>)
    .some((rule) => (rule.resources ?? []).some((r) => r === resource || r === '*') && rule.verbs.some((verb) => WRITE_VERBS.includes(verb)));
  return manifests
    .filter((m) => m.kind === 'RoleBinding' || m.kind === 'ClusterRoleBinding')
    .filter((binding) => roles.some((role) => role.kind === binding.roleRef.kind && role.metadata.name === binding.roleRef.name
      && (role.kind === 'ClusterRole' || role.metadata.namespace === binding.metadata.namespace) && writes(role)))
    .flatMap((binding) => (binding.subjects as Array<{ kind: string; name: string; namespace: string }>)
      .map((subject) => `system:serviceaccount:${subject.namespace}:${subject.name}`));
}

/** User names some SecretWritePolicy of the manifests is bound to with Deny. */
function guarded(manifests: Manifest[]): string[] {
  const denied = new Set(manifests.filter((m) => m.kind === 'ValidatingAdmissionPolicyBinding' && m.spec.validationActions.includes('Deny')).map((m) => m.spec.policyName));
  return manifests
    .filter((m) => m.kind === 'ValidatingAdmissionPolicy' && denied.has(m.metadata.name) && m.spec.failurePolicy === 'Fail')
    .flatMap((m) => ((m.spec.matchConditions ?? []) as Array<{ expression: string }>).map((c) => /^request\.userInfo\.username == "([^"]+)"$/.exec(c.expression)?.[1]))
    .filter((user): user is string => user !== undefined);
}

describe('SecretWritePolicy', () => {
  test('fails if any ServiceAccount of the whole chart can write Secrets or ServiceAccounts without a policy bound to it', () => {
    // GIVEN every feature that deploys a ServiceAccount
    const chart = new TrustedRegistryChart(Testing.app(), 'trusted-registry', {
      registry: { htpasswd: HtpasswdSource.generated() },
      pullNamespaces: ['team-a', 'team-b'],
      nodeTrust: { caConfigMapName: 'registry-ca' },
      networkPolicy: { nodeCidrs: ['10.0.0.0/16'] },
    });
    chart.grantPull('Builders', { namespaces: ['ci'], serviceAccounts: ['builder'] });

    // WHEN
    const manifests = synth(chart);
    validateAgainstKubernetesSchemas(manifests);

    // THEN
    const secretWriters = writers(manifests, 'secrets');
    // The generator's RoleBinding, one per consumer namespace of each grant.
    expect(secretWriters).toHaveLength(1 + 2 + 1);
    const policies = guarded(manifests);
    for (const user of [...secretWriters, ...writers(manifests, 'serviceaccounts')]) {
      expect(policies).toContain(user);
    }
  });

  test('fails if no Secret is listed', () => {
    expect(() => new SecretWritePolicy(new Chart(Testing.app(), 'c', { namespace: 'registry' }), 'P', { serviceAccountName: 'sa', secrets: [] }))
      .toThrow(`'secrets' must list at least one Secret, got []`);
  });

  test('fails if a Secret type or key could break out of a CEL string', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'registry' });
    expect(() => new SecretWritePolicy(chart, 'P', { serviceAccountName: 'sa', secrets: [{ namespace: 'registry', name: 's', type: 'Opaque" || true || "', keys: ['k'] }] }))
      .toThrow(`'secrets[0].type' must be a Secret type such as "Opaque" or "kubernetes.io/dockerconfigjson", got "Opaque\\" || true || \\""`);
    expect(() => new SecretWritePolicy(chart, 'Q', { serviceAccountName: 'sa', secrets: [{ namespace: 'registry', name: 's', type: 'Opaque', keys: ['a"b'] }] }))
      .toThrow(`'secrets[0].keys[]' must be a Secret data key (letters, digits, "-", "_" and "."), got "a\\"b"`);
  });

  test('fails if the chart has no namespace', () => {
    expect(() => new SecretWritePolicy(Testing.chart(), 'P', { serviceAccountName: 'sa', secrets: [{ namespace: 'x', name: 's', type: 'Opaque', keys: [] }] }))
      .toThrow(`'namespace' must be set on the Chart that contains a SecretWritePolicy`);
  });
});
