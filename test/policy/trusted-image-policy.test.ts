import { Testing } from 'cdk8s';
import { ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { AdmissionPolicyApiVersion, PolicyMode, TrustedImagePolicy, TrustedImagePolicyProps } from '../../src';

const HOST = 'registry.mycorp.local';

function synth(props: Partial<TrustedImagePolicyProps> = {}) {
  const chart = Testing.chart();
  const construct = new TrustedImagePolicy(chart, 'TrustedImages', { trustedSources: [HOST], ...props });
  const manifests = Testing.synth(chart);
  const policy = manifests.find((m) => m.kind === 'ValidatingAdmissionPolicy');
  const binding = manifests.find((m) => m.kind === 'ValidatingAdmissionPolicyBinding');
  return { construct, manifests, policy, binding };
}

/**
 * Validates against the official Kubernetes OpenAPI schema. kubernetes-models 4.5 ships no
 * v1beta1 ValidatingAdmissionPolicy, so v1beta1 manifests are checked with the v1 schema: in
 * Kubernetes 1.30 the v1beta1 and v1 specs (policy, binding, MatchResources, rules, validations,
 * variables) are field-for-field identical.
 */
function validateSchema(manifest: any): void {
  expect(['admissionregistration.k8s.io/v1', 'admissionregistration.k8s.io/v1beta1']).toContain(manifest.apiVersion);
  const asV1 = { ...manifest, apiVersion: 'admissionregistration.k8s.io/v1' };
  if (manifest.kind === 'ValidatingAdmissionPolicy') {
    new ValidatingAdmissionPolicy(asV1).validate();
  } else if (manifest.kind === 'ValidatingAdmissionPolicyBinding') {
    new ValidatingAdmissionPolicyBinding(asV1).validate();
  } else {
    throw new Error(`unexpected kind ${manifest.kind}`);
  }
}

const PINNED = "'^[a-z0-9]+(?:(?:[.]|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?@sha256:[0-9a-f]{64}$'";
const OVERLONG_TAG = "':[A-Za-z0-9_.-]{129}'";

describe('snapshots', () => {
  const configurations: Array<[string, Partial<TrustedImagePolicyProps>]> = [
    ['defaults', {}],
    ['audit mode, several sources and exemptions', { mode: PolicyMode.AUDIT, trustedSources: [`${HOST}/team-b/`, `${HOST}/team-a`, 'mirror.mycorp.local'], exemptNamespaces: ['registry', 'kube-system'] }],
    ['pods only, custom name, no exemptions', { workloads: false, name: 'pinned-images', exemptNamespaces: [], enforceInKubeSystem: true }],
    ['v1beta1', { apiVersion: AdmissionPolicyApiVersion.V1BETA1 }],
  ];

  test.each(configurations)('%s', (_name, props) => {
    // GIVEN / WHEN
    const { manifests } = synth(props);
    // THEN
    expect(manifests).toMatchSnapshot();
  });

  test.each(configurations)('%s validates against the Kubernetes schema', (_name, props) => {
    const { manifests } = synth(props);
    expect(manifests).toHaveLength(2);
    manifests.forEach((manifest) => expect(() => validateSchema(manifest)).not.toThrow());
  });
});

describe('policy', () => {
  test('uses v1 by default and v1beta1 on request', () => {
    expect(synth().manifests.map((m) => m.apiVersion)).toEqual(['admissionregistration.k8s.io/v1', 'admissionregistration.k8s.io/v1']);
    expect(synth({ apiVersion: AdmissionPolicyApiVersion.V1BETA1 }).manifests.map((m) => m.apiVersion))
      .toEqual(['admissionregistration.k8s.io/v1beta1', 'admissionregistration.k8s.io/v1beta1']);
  });

  test('the schema check catches a broken manifest', () => {
    // GIVEN a policy with an invalid failurePolicy, so a passing schema test means something
    const { policy } = synth();
    // WHEN / THEN
    expect(() => validateSchema({ ...policy, spec: { ...policy.spec, failurePolicy: 'Sometimes' } })).toThrow();
  });

  test('fails closed and matches pods, kubectl debug and workloads on CREATE and UPDATE', () => {
    const { policy } = synth();
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(policy.spec.matchConstraints).toEqual({
      matchPolicy: 'Equivalent',
      resourceRules: [
        { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods', 'pods/ephemeralcontainers', 'replicationcontrollers'], scope: 'Namespaced' },
        { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['daemonsets', 'deployments', 'replicasets', 'statefulsets'], scope: 'Namespaced' },
        { apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['cronjobs', 'jobs'], scope: 'Namespaced' },
      ],
    });
  });

  test('without workloads only pods are matched and the pod spec is object.spec', () => {
    const { policy } = synth({ workloads: false });
    expect(policy.spec.matchConstraints.resourceRules).toEqual([
      { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods', 'pods/ephemeralcontainers'], scope: 'Namespaced' },
    ]);
    expect(policy.spec.variables[0]).toEqual({ name: 'podSpec', expression: 'object.spec' });
    expect(policy.spec.variables[1]).toEqual({ name: 'oldPodSpec', expression: 'oldObject != null ? oldObject.spec : null' });
  });

  test('CEL expressions', () => {
    // GIVEN two sources given out of order
    const { policy } = synth({ trustedSources: [`${HOST}/team-a`, HOST] });
    // THEN
    expect(policy.spec.variables).toEqual([
      {
        name: 'podSpec',
        expression: "object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)",
      },
      {
        name: 'oldPodSpec',
        expression: "oldObject != null ? (oldObject.kind == 'Pod' ? oldObject.spec : (oldObject.kind == 'CronJob' ? oldObject.spec.jobTemplate.spec.template.spec : oldObject.spec.template.spec)) : null",
      },
      {
        // Every image slot of the old object as "<list>/<name>=<image>".
        name: 'oldSlots',
        expression: "oldObject == null ? [] : variables.oldPodSpec.containers.map(v, 'containers/' + v.name + '=' + (has(v.image) ? v.image : ''))"
          + " + (has(variables.oldPodSpec.initContainers) ? variables.oldPodSpec.initContainers : []).map(v, 'initContainers/' + v.name + '=' + (has(v.image) ? v.image : ''))"
          + " + (has(variables.oldPodSpec.ephemeralContainers) ? variables.oldPodSpec.ephemeralContainers : []).map(v, 'ephemeralContainers/' + v.name + '=' + (has(v.image) ? v.image : ''))"
          + " + (has(variables.oldPodSpec.volumes) ? variables.oldPodSpec.volumes : []).filter(v, has(v.image)).map(v, 'volumes/' + v.name + '=' + (has(v.image.reference) ? v.image.reference : ''))",
      },
      {
        // Every image, for a CREATE.
        name: 'allImages',
        expression: "variables.podSpec.containers.map(v, (has(v.image) ? v.image : ''))"
          + " + (has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : []).map(v, (has(v.image) ? v.image : ''))"
          + " + (has(variables.podSpec.ephemeralContainers) ? variables.podSpec.ephemeralContainers : []).map(v, (has(v.image) ? v.image : ''))"
          + " + (has(variables.podSpec.volumes) ? variables.podSpec.volumes : []).filter(v, has(v.image)).map(v, (has(v.image.reference) ? v.image.reference : ''))",
      },
      {
        // Images whose slot is new, for an UPDATE (all of them without an old object).
        name: 'changedImages',
        expression: "variables.podSpec.containers.filter(v, (size(variables.oldSlots) == 0 || !(('containers/' + v.name + '=' + (has(v.image) ? v.image : '')) in variables.oldSlots))).map(v, (has(v.image) ? v.image : ''))"
          + " + (has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : []).filter(v, (size(variables.oldSlots) == 0 || !(('initContainers/' + v.name + '=' + (has(v.image) ? v.image : '')) in variables.oldSlots))).map(v, (has(v.image) ? v.image : ''))"
          + " + (has(variables.podSpec.ephemeralContainers) ? variables.podSpec.ephemeralContainers : []).filter(v, (size(variables.oldSlots) == 0 || !(('ephemeralContainers/' + v.name + '=' + (has(v.image) ? v.image : '')) in variables.oldSlots))).map(v, (has(v.image) ? v.image : ''))"
          + " + (has(variables.podSpec.volumes) ? variables.podSpec.volumes : []).filter(v, has(v.image) && (size(variables.oldSlots) == 0 || !(('volumes/' + v.name + '=' + (has(v.image.reference) ? v.image.reference : '')) in variables.oldSlots))).map(v, (has(v.image.reference) ? v.image.reference : ''))",
      },
      {
        // Only one of the two is ever read, and so evaluated, by the API server.
        name: 'images',
        expression: 'oldObject == null ? variables.allImages : variables.changedImages',
      },
      {
        name: 'untrustedImages',
        expression: "variables.images.filter(image, !(image.startsWith('registry.mycorp.local/') || image.startsWith('registry.mycorp.local/team-a/')))",
      },
      {
        name: 'unpinnedImages',
        expression: `variables.images.filter(image, !image.matches(${PINNED}) || image.matches(${OVERLONG_TAG}))`,
      },
    ]);
    expect(policy.spec.validations).toEqual([
      {
        expression: 'size(variables.untrustedImages) == 0',
        message: 'all images must come from a trusted registry (registry.mycorp.local/, registry.mycorp.local/team-a/)',
        messageExpression: "'images must come from a trusted registry (registry.mycorp.local/, registry.mycorp.local/team-a/), refused: ' + variables.untrustedImages.map(image, '\"' + image + '\"').join(', ')",
      },
      {
        expression: 'size(variables.unpinnedImages) == 0',
        message: 'all images must be pinned by digest (name[:tag]@sha256:<64 lowercase hex>)',
        messageExpression: "'images must be pinned by digest (name[:tag]@sha256:<64 lowercase hex>), refused: ' + variables.unpinnedImages.map(image, '\"' + image + '\"').join(', ')",
      },
    ]);
  });
});

describe('binding', () => {
  test('names the policy, denies in enforce mode and exempts kube-system by default', () => {
    const { binding, construct } = synth();
    expect(binding.metadata.name).toBe('trusted-images');
    expect(binding.spec).toEqual({
      policyName: 'trusted-images',
      validationActions: ['Deny'],
      matchResources: {
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] }] },
      },
    });
    expect(construct.policyName).toBe('trusted-images');
    expect(construct.bindingName).toBe('trusted-images');
  });

  test('audit mode warns and audits instead of denying', () => {
    const { binding, construct } = synth({ mode: PolicyMode.AUDIT });
    expect(binding.spec.validationActions).toEqual(['Warn', 'Audit']);
    expect(construct.validationActions).toEqual(['Warn', 'Audit']);
  });

  test('exempt namespaces are sorted, and an empty list applies everywhere', () => {
    expect(synth({ exemptNamespaces: ['registry', 'kube-system'] }).binding.spec.matchResources.namespaceSelector.matchExpressions[0].values)
      .toEqual(['kube-system', 'registry']);
    expect(synth({ exemptNamespaces: [], enforceInKubeSystem: true }).binding.spec.matchResources).toEqual({});
  });

  test('kube-system may be enforced with the acknowledgement, and audited without it', () => {
    expect(synth({ exemptNamespaces: ['registry'], enforceInKubeSystem: true }).construct.exemptNamespaces).toEqual(['registry']);
    expect(synth({ exemptNamespaces: [], mode: PolicyMode.AUDIT }).binding.spec.matchResources).toEqual({});
  });

  test('custom name applies to both objects', () => {
    const { policy, binding } = synth({ name: 'pinned-images' });
    expect([policy.metadata.name, binding.metadata.name, binding.spec.policyName]).toEqual(['pinned-images', 'pinned-images', 'pinned-images']);
  });
});

describe('construct', () => {
  test('construct ids are Resource and Binding', () => {
    const { construct } = synth();
    expect(construct.node.children.map((child) => child.node.id)).toEqual(['Resource', 'Binding']);
    expect(construct.policy.kind).toBe('ValidatingAdmissionPolicy');
    expect(construct.binding.kind).toBe('ValidatingAdmissionPolicyBinding');
  });

  test('trustedSources are normalized to sorted prefixes ending with "/"', () => {
    const { construct } = synth({ trustedSources: [`${HOST}/team-a`, 'mirror.mycorp.local/', HOST] });
    expect(construct.trustedSources).toEqual(['mirror.mycorp.local/', 'registry.mycorp.local/', 'registry.mycorp.local/team-a/']);
  });

  test('output does not depend on input order', () => {
    const a = synth({ trustedSources: ['b.mycorp.local', 'a.mycorp.local'], exemptNamespaces: ['y', 'kube-system', 'x'] }).manifests;
    const b = synth({ trustedSources: ['a.mycorp.local', 'b.mycorp.local'], exemptNamespaces: ['x', 'y', 'kube-system'] }).manifests;
    expect(a).toEqual(b);
  });
});

describe('validation', () => {
  const failures: Array<[string, Partial<TrustedImagePolicyProps>, string]> = [
    ['no trusted source', { trustedSources: [] }, "'trustedSources' must list at least one registry host or host/path prefix, got []"],
    ['an empty source', { trustedSources: [''] }, `'trustedSources' must be a lowercase DNS name with at least one dot, without scheme, port or path (e.g. "registry.example.com"), got ""`],
    ['a source with a scheme', { trustedSources: ['https://registry.mycorp.local'] }, `'trustedSources' must not contain a scheme (write "registry.example.com", not "https://registry.example.com"), got "https://registry.mycorp.local"`],
    ['an uppercase source', { trustedSources: ['Registry.mycorp.local'] }, `'trustedSources' must be lowercase (image references are matched case-sensitively and registries use lowercase names), got "Registry.mycorp.local"`],
    ['a wildcard source', { trustedSources: ['*.mycorp.local'] }, `'trustedSources' must not contain wildcards; list a host or a host/path prefix instead, got "*.mycorp.local"`],
    ['a wildcard path', { trustedSources: ['registry.mycorp.local/team-?'] }, `'trustedSources' must not contain wildcards; list a host or a host/path prefix instead, got "registry.mycorp.local/team-?"`],
    ['a source with a port', { trustedSources: ['registry.mycorp.local:5000'] }, `'trustedSources' must be a lowercase DNS name with at least one dot, without scheme, port or path (e.g. "registry.example.com"), got "registry.mycorp.local:5000"`],
    ['a host without a dot', { trustedSources: ['registry'] }, `'trustedSources' must be a lowercase DNS name with at least one dot, without scheme, port or path (e.g. "registry.example.com"), got "registry"`],
    ['a source with whitespace', { trustedSources: ['registry.mycorp.local '] }, `'trustedSources' must be a lowercase DNS name with at least one dot, without scheme, port or path (e.g. "registry.example.com"), got "registry.mycorp.local "`],
    ['an empty path component', { trustedSources: ['registry.mycorp.local//team-a'] }, `'trustedSources' path must be "/"-separated lowercase repository components (letters, digits, ".", "_", "-"), e.g. "registry.example.com/team-a/", got "registry.mycorp.local//team-a"`],
    ['a path with a tag', { trustedSources: ['registry.mycorp.local/team-a:v1'] }, `'trustedSources' path must be "/"-separated lowercase repository components (letters, digits, ".", "_", "-"), e.g. "registry.example.com/team-a/", got "registry.mycorp.local/team-a:v1"`],
    ['a path with a quote', { trustedSources: ["registry.mycorp.local/a')"] }, `'trustedSources' path must be "/"-separated lowercase repository components (letters, digits, ".", "_", "-"), e.g. "registry.example.com/team-a/", got "registry.mycorp.local/a')"`],
    ['duplicate sources', { trustedSources: [HOST, `${HOST}/`] }, `'trustedSources' must not list the same value twice, got "registry.mycorp.local/"`],
    ['an invalid exempt namespace', { exemptNamespaces: ['Kube_System'] }, `'exemptNamespaces' must be a Kubernetes namespace name (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit), got "Kube_System"`],
    ['an empty exempt namespace', { exemptNamespaces: [''] }, `'exemptNamespaces' must be a Kubernetes namespace name (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit), got ""`],
    ['duplicate exempt namespaces', { exemptNamespaces: ['kube-system', 'kube-system'] }, `'exemptNamespaces' must not list the same value twice, got "kube-system"`],
    ['an unknown mode (JavaScript caller)', { mode: 'audit' as PolicyMode }, `'mode' must be one of PolicyMode.ENFORCE ("ENFORCE"), PolicyMode.AUDIT ("AUDIT"), got "audit"`],
    ['mode "off"', { mode: 'off' as PolicyMode }, `'mode' must be one of PolicyMode.ENFORCE ("ENFORCE"), PolicyMode.AUDIT ("AUDIT"), got "off"`],
    ['an unknown apiVersion', { apiVersion: 'v1alpha1' as AdmissionPolicyApiVersion }, `'apiVersion' must be one of AdmissionPolicyApiVersion.V1 ("v1"), AdmissionPolicyApiVersion.V1BETA1 ("v1beta1"), got "v1alpha1"`],
    ['no exemptions in enforce mode without the acknowledgement', { exemptNamespaces: [] }, `'exemptNamespaces' must include "kube-system" in enforce mode unless 'enforceInKubeSystem' is true: the cluster's own components (CoreDNS, kube-proxy, the CNI) run there from public images and would be refused when their pods are recreated, which can lock the cluster out; mirror their images and run \`trusted-registry preflight\` first, got []`],
    ['exemptions without kube-system in enforce mode', { exemptNamespaces: ['registry'], enforceInKubeSystem: false }, `'exemptNamespaces' must include "kube-system" in enforce mode unless 'enforceInKubeSystem' is true`],
    ['an invalid name', { name: 'Trusted Images' }, `'name' must be a Kubernetes object name (lowercase DNS subdomain: letters, digits, "-" and ".", at most 253 characters), got "Trusted Images"`],
  ];

  test.each(failures)('fails if given %s', (_name, props, message) => {
    expect(() => synth(props)).toThrow(message);
  });
});
