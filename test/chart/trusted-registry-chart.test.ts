import { Testing } from 'cdk8s';
import { PolicyMode, TrustedRegistryChart, TrustedRegistryChartProps } from '../../src';
import { findOne, Manifest, synth, validateAgainstKubernetesSchemas } from '../util/manifests';

function chartManifests(props: TrustedRegistryChartProps = {}): Manifest[] {
  return synth(new TrustedRegistryChart(Testing.app(), 'trusted-registry', props));
}

describe('TrustedRegistryChart with defaults', () => {
  const manifests = chartManifests();

  test('matches the snapshot', () => {
    expect(manifests).toMatchSnapshot();
  });

  test('every object is valid Kubernetes 1.30', () => {
    validateAgainstKubernetesSchemas(manifests);
  });

  test('creates the registry namespace enforcing the restricted Pod Security Standard', () => {
    const namespace = findOne(manifests, 'Namespace');
    expect(namespace.metadata).not.toHaveProperty('namespace');
    expect(namespace.metadata.name).toBe('registry');
    expect(namespace.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    expect(manifests.filter((m) => m.kind !== 'Namespace' && m.metadata.namespace !== undefined).every((m) => m.metadata.namespace === 'registry')).toBe(true);
  });

  test('exposes the registry only as ClusterIP behind a TLS Ingress', () => {
    expect(findOne(manifests, 'Service', 'registry').spec.type).toBe('ClusterIP');
    expect(findOne(manifests, 'Service', 'registry-push').spec.type).toBe('ClusterIP');
    expect(JSON.stringify(manifests)).not.toMatch(/NodePort|nodePort|LoadBalancer/);
    expect(findOne(manifests, 'Ingress').spec.tls).toEqual([{ hosts: ['registry.mycorp.local'], secretName: 'registry-tls' }]);
  });

  test('binds the policy, failing closed, exempting kube-system and the registry namespace', () => {
    const policy = findOne(manifests, 'ValidatingAdmissionPolicy');
    const binding = findOne(manifests, 'ValidatingAdmissionPolicyBinding');
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(binding.spec.policyName).toBe(policy.metadata.name);
    expect(binding.spec.validationActions).toEqual(['Deny']);
    expect(binding.spec.matchResources.namespaceSelector.matchExpressions).toEqual([
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'registry'] },
    ]);
  });

  test('the policy checks every image of every pod spec for the registry host and a digest', () => {
    const spec = findOne(manifests, 'ValidatingAdmissionPolicy').spec;
    // The pod-spec and UPDATE-slot expressions are pinned in test/policy/trusted-image-policy.test.ts.
    expect(spec.variables.map((v: any) => v.name)).toEqual(['podSpec', 'oldPodSpec', 'oldSlots', 'allImages', 'changedImages', 'images', 'untrustedImages', 'unpinnedImages']);
    expect(spec.variables.slice(6)).toEqual([
      { name: 'untrustedImages', expression: "variables.images.filter(image, !(image.startsWith('registry.mycorp.local/')))" },
      {
        name: 'unpinnedImages',
        expression: "variables.images.filter(image, !image.matches('^[a-z0-9]+(?:(?:[.]|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?@sha256:[0-9a-f]{64}$') || image.matches(':[A-Za-z0-9_.-]{129}'))",
      },
    ]);
    expect(spec.validations.map((v: any) => v.expression)).toEqual(['size(variables.untrustedImages) == 0', 'size(variables.unpinnedImages) == 0']);
  });

  test('cluster-scoped objects carry no namespace', () => {
    const clusterScoped = manifests.filter((m) => ['Namespace', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].includes(m.kind));
    expect(clusterScoped).toHaveLength(3);
    for (const manifest of clusterScoped) {
      expect(manifest.metadata).not.toHaveProperty('namespace');
    }
  });

  test('contains no secret material', () => {
    expect(manifests.map((m) => m.kind)).not.toContain('Secret');
    expect(JSON.stringify(manifests)).not.toMatch(/PRIVATE KEY|password/i);
  });
});

describe('TrustedRegistryChart options', () => {
  test('host, namespace, exemptions and audit mode flow to the registry and the policy', () => {
    // WHEN
    const manifests = chartManifests({
      host: 'registry.example.com',
      namespace: 'images',
      exemptNamespaces: ['kube-system', 'monitoring'],
      policyMode: PolicyMode.AUDIT,
    });

    // THEN
    validateAgainstKubernetesSchemas(manifests);
    // monitoring is exempt and not a system namespace, so the chart owns it too.
    expect(manifests.filter((m) => m.kind === 'Namespace').map((m) => m.metadata.name)).toEqual(['images', 'monitoring']);
    expect(findOne(manifests, 'Ingress').spec.rules[0].host).toBe('registry.example.com');
    const binding = findOne(manifests, 'ValidatingAdmissionPolicyBinding');
    expect(binding.spec.validationActions).toEqual(['Warn', 'Audit']);
    expect(binding.spec.matchResources.namespaceSelector.matchExpressions[0].values).toEqual(['images', 'kube-system', 'monitoring']);
    expect(JSON.stringify(findOne(manifests, 'ValidatingAdmissionPolicy'))).toContain('registry.example.com/');
    expect(manifests).toMatchSnapshot();
  });

  test('an exempt list that already names the registry namespace keeps it once', () => {
    const manifests = chartManifests({ exemptNamespaces: ['registry'], enforceInKubeSystem: true });
    expect(findOne(manifests, 'ValidatingAdmissionPolicyBinding').spec.matchResources.namespaceSelector.matchExpressions[0].values).toEqual(['registry']);
  });

  test('the namespace can be left to the cluster admin', () => {
    expect(chartManifests({ createNamespace: false }).map((m) => m.kind)).not.toContain('Namespace');
  });

  test('two synths are byte-identical', () => {
    const render = () => {
      const app = Testing.app();
      new TrustedRegistryChart(app, 'trusted-registry');
      return app.synthYaml();
    };
    expect(render()).toBe(render());
  });

  test.each<[string, TrustedRegistryChartProps, string]>([
    ['the host is a URL', { host: 'https://reg.io/' }, `'host' must be a lowercase DNS name with at least one dot, without scheme, port or path (e.g. "registry.example.com"), got "https://reg.io/"`],
    ['the namespace is invalid', { namespace: 'Registry' }, `'namespace' must be a Kubernetes namespace name (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit), got "Registry"`],
  ])('fails if %s', (_, props, message) => {
    expect(() => chartManifests(props)).toThrow(message);
  });
});
