import { Testing } from 'cdk8s';
import { RegistryCertificate, TrustedRegistryChart, TrustedRegistryChartProps } from '../../src';
import { isCustomResource, validateAgainstCrds } from '../util/crds';
import { findOne, Manifest, synth, validateAgainstKubernetesSchemas } from '../util/manifests';

function chartManifests(props: TrustedRegistryChartProps = {}): Manifest[] {
  return synth(new TrustedRegistryChart(Testing.app(), 'trusted-registry', props));
}

function exemptNamespaces(manifests: Manifest[]): string[] {
  return findOne(manifests, 'ValidatingAdmissionPolicyBinding').spec.matchResources.namespaceSelector.matchExpressions[0].values;
}

describe('TrustedRegistryChart TLS, node trust and network options', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  test('are all off by default: no key material, no DaemonSet, no NetworkPolicy, no cert-manager object', () => {
    const manifests = chartManifests();
    expect(manifests.filter((m) => ['Secret', 'DaemonSet', 'NetworkPolicy'].includes(m.kind) || isCustomResource(m))).toEqual([]);
    expect(JSON.stringify(manifests)).not.toContain('PRIVATE KEY');
    expect(warn).not.toHaveBeenCalled();
  });

  test('trust a self-signed certificate on the nodes from an exempt namespace, and isolate the registry', () => {
    // WHEN
    const manifests = chartManifests({
      registry: { certificate: RegistryCertificate.selfSigned({ seed: 'chart-test-seed-0123456789abcdefghij', notBefore: new Date('2025-01-01T00:00:00Z') }) },
      nodeTrust: { namespace: 'node-setup' },
      networkPolicy: { nodeCidrs: ['10.0.0.0/16'] },
    });

    // THEN
    validateAgainstKubernetesSchemas(manifests);
    const tlsCrt = findOne(manifests, 'Secret', 'registry-tls').stringData['tls.crt'];
    expect(findOne(manifests, 'ConfigMap', 'registry-registry-node-trust').data['ca.crt']).toBe(tlsCrt);
    expect(findOne(manifests, 'DaemonSet').metadata.namespace).toBe('node-setup');
    expect(exemptNamespaces(manifests)).toEqual(expect.arrayContaining(['kube-system', 'node-setup', 'registry']));
    expect(findOne(manifests, 'NetworkPolicy').metadata).toEqual({ name: 'registry', namespace: 'registry' });
  });

  test('issue a cert-manager certificate for every registry name and trust a CA from a ConfigMap', () => {
    const manifests = chartManifests({
      registry: { certificate: RegistryCertificate.fromCertManager() },
      nodeTrust: { caConfigMapName: 'registry-ca' },
    });
    validateAgainstKubernetesSchemas(manifests.filter((m) => !isCustomResource(m)));
    validateAgainstCrds(manifests.filter(isCustomResource));
    expect(findOne(manifests, 'Certificate', 'registry-tls').spec.dnsNames)
      .toEqual([
        'registry.mycorp.local', 'registry.registry.svc', 'registry.registry.svc.cluster.local',
        'registry-push.registry.svc', 'registry-push.registry.svc.cluster.local',
      ]);
    expect(exemptNamespaces(manifests)).toEqual(['kube-system', 'registry']);
    expect(JSON.stringify(manifests)).not.toContain('PRIVATE KEY');
  });
});
