import { Testing } from 'cdk8s';
import { PolicyMode, RegistryCertificate, TrustedRegistryChart, TrustedRegistryChartProps } from '../../src';
import { findOne, Manifest, synth, validateAgainstKubernetesSchemas } from '../util/manifests';

// What keeps a rollout from locking anyone out: exempt namespaces nobody can claim, warnings about
// the chart's own dependencies in enforce mode, and refusing unknown modes.

function chartManifests(props: TrustedRegistryChartProps = {}): Manifest[] {
  return synth(new TrustedRegistryChart(Testing.app(), 'trusted-registry', props));
}

const namespaceNames = (manifests: Manifest[]) => manifests.filter((m) => m.kind === 'Namespace').map((m) => m.metadata.name);

let warn: jest.SpyInstance;
beforeEach(() => {
  warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
});
afterEach(() => warn.mockRestore());
const warnings = () => warn.mock.calls.map((call) => String(call[0]));

describe('exempt namespaces', () => {
  test('the chart creates every exempt namespace that is neither a system namespace nor managed elsewhere', () => {
    // WHEN monitoring and NodeTrust's namespace are exempt, cert-manager is declared as owned by Helm
    const manifests = chartManifests({
      exemptNamespaces: ['kube-system', 'kube-public', 'default', 'monitoring', 'cert-manager'],
      externallyManagedNamespaces: ['cert-manager'],
      nodeTrust: { namespace: 'node-setup', caConfigMapName: 'registry-ca' },
    });

    // THEN only the claimable ones are created, without namespace and without labels
    validateAgainstKubernetesSchemas(manifests);
    expect(namespaceNames(manifests)).toEqual(['registry', 'monitoring', 'node-setup']);
    expect(findOne(manifests, 'Namespace', 'monitoring').metadata).toEqual({ name: 'monitoring' });
    expect(findOne(manifests, 'ValidatingAdmissionPolicyBinding').spec.matchResources.namespaceSelector.matchExpressions[0].values)
      .toEqual(['cert-manager', 'default', 'kube-public', 'kube-system', 'monitoring', 'node-setup', 'registry']);
  });

  test('construct ids are ExemptNamespaces/<name>', () => {
    const chart = new TrustedRegistryChart(Testing.app(), 'trusted-registry', { exemptNamespaces: ['kube-system', 'monitoring'] });
    expect(chart.node.findChild('ExemptNamespaces').node.findChild('monitoring')).toBeDefined();
  });

  test('the defaults create no extra namespace', () => {
    expect(namespaceNames(chartManifests())).toEqual(['registry']);
  });

  test('with createNamespace: false the registry namespace stays the admin\'s', () => {
    expect(namespaceNames(chartManifests({ createNamespace: false, exemptNamespaces: ['kube-system', 'monitoring'] }))).toEqual(['monitoring']);
  });

  test.each<[string, TrustedRegistryChartProps, string]>([
    ['an externally managed namespace is not exempt', { externallyManagedNamespaces: ['cert-manager'] },
      `'externallyManagedNamespaces' must list only exempt namespaces (kube-system, registry), got "cert-manager"`],
    ['an externally managed namespace is invalid', { externallyManagedNamespaces: ['Cert-Manager'] },
      `'externallyManagedNamespaces' must be a Kubernetes namespace name`],
    ['an externally managed namespace is listed twice', { exemptNamespaces: ['kube-system', 'a'], externallyManagedNamespaces: ['a', 'a'] },
      `'externallyManagedNamespaces' must not list the same value twice, got "a"`],
    ['kube-system is enforced without the acknowledgement', { exemptNamespaces: [] },
      `'exemptNamespaces' must include "kube-system" in enforce mode unless 'enforceInKubeSystem' is true`],
    ['policyMode is not a PolicyMode (JavaScript)', { policyMode: 'audit' as PolicyMode },
      `'policyMode' must be one of PolicyMode.ENFORCE ("ENFORCE"), PolicyMode.AUDIT ("AUDIT"), got "audit"`],
    ['policyMode is "off"', { policyMode: 'off' as PolicyMode },
      `'policyMode' must be one of PolicyMode.ENFORCE ("ENFORCE"), PolicyMode.AUDIT ("AUDIT"), got "off"`],
  ])('fails if %s', (_name, props, message) => {
    expect(() => chartManifests(props)).toThrow(message);
  });

  test('kube-system can be enforced with the acknowledgement', () => {
    const binding = findOne(chartManifests({ exemptNamespaces: [], enforceInKubeSystem: true }), 'ValidatingAdmissionPolicyBinding');
    expect(binding.spec.matchResources.namespaceSelector.matchExpressions[0].values).toEqual(['registry']);
  });
});

describe('warnings about the chart\'s own dependencies in enforce mode', () => {
  const certManager = { registry: { certificate: RegistryCertificate.fromCertManager() } };

  test('the ingress controller namespace named by the NetworkPolicy, and cert-manager, are named', () => {
    // WHEN
    chartManifests({ ...certManager, networkPolicy: { nodeCidrs: ['10.0.0.0/16'] } });
    // THEN
    expect(warnings()).toEqual([
      'warning: trusted-registry: the policy enforces in namespace "ingress-nginx", where the ingress controller serving the registry\'s Ingress runs; '
        + 'unless its images are already mirrored into registry.mycorp.local and referenced by digest, its pods are refused when recreated. '
        + 'Mirror them (trusted-registry preflight, then trusted-registry mirror) or add "ingress-nginx" to exemptNamespaces',
      'warning: trusted-registry: the policy enforces in namespace "cert-manager", where cert-manager, which issues and renews the registry\'s certificate runs; '
        + 'unless its images are already mirrored into registry.mycorp.local and referenced by digest, its pods are refused when recreated. '
        + 'Mirror them (trusted-registry preflight, then trusted-registry mirror) or add "cert-manager" to exemptNamespaces',
    ]);
  });

  test('custom namespaces are named', () => {
    chartManifests({
      registry: { certificate: RegistryCertificate.fromCertManager() },
      certManagerNamespace: 'certs',
      networkPolicy: { nodeCidrs: ['10.0.0.0/16'], ingressControllerNamespaceLabels: { 'kubernetes.io/metadata.name': 'traefik' } },
    });
    expect(warnings().map((w) => /namespace "([^"]+)"/.exec(w)![1])).toEqual(['traefik', 'certs']);
  });

  test('no warning when they are exempt, in audit mode, or when nothing depends on them', () => {
    chartManifests({ ...certManager, networkPolicy: { nodeCidrs: ['10.0.0.0/16'] }, exemptNamespaces: ['kube-system', 'ingress-nginx', 'cert-manager'], externallyManagedNamespaces: ['ingress-nginx', 'cert-manager'] });
    chartManifests({ ...certManager, networkPolicy: { nodeCidrs: ['10.0.0.0/16'] }, policyMode: PolicyMode.AUDIT });
    chartManifests();
    expect(warnings()).toEqual([]);
  });
});
