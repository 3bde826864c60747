import { Chart, Duration, Testing } from 'cdk8s';
import { CertManagerIssuerKind, PrivateRegistry, RegistryCertificate } from '../../src';
import { isCustomResource, validateAgainstCrds } from '../util/crds';
import { findOne, Manifest, synth, validateAgainstKubernetesSchemas } from '../util/manifests';

function registryChart(certificate: RegistryCertificate): Manifest[] {
  const chart = new Chart(Testing.app(), 'x', { namespace: 'registry' });
  new PrivateRegistry(chart, 'Registry', { host: 'registry.example.com', certificate });
  return synth(chart);
}

function validate(manifests: Manifest[]): void {
  validateAgainstCrds(manifests.filter(isCustomResource));
  validateAgainstKubernetesSchemas(manifests.filter((m) => !isCustomResource(m)));
}

describe('RegistryCertificate.fromCertManager', () => {
  test('issues a certificate for the Ingress host and the in-cluster names from the given ClusterIssuer', () => {
    // WHEN
    const manifests = registryChart(RegistryCertificate.fromCertManager({
      issuer: { name: 'corp-ca', kind: CertManagerIssuerKind.CLUSTER_ISSUER },
    }));

    // THEN
    validate(manifests);
    expect(manifests.filter(isCustomResource).map((m) => m.kind)).toEqual(['Certificate']);
    const certificate = findOne(manifests, 'Certificate');
    expect(certificate.metadata).toEqual({ name: 'registry-tls', namespace: 'registry' });
    expect(certificate.spec).toEqual({
      secretName: 'registry-tls',
      dnsNames: [
        'registry.example.com', 'registry.registry.svc', 'registry.registry.svc.cluster.local',
        'registry-push.registry.svc', 'registry-push.registry.svc.cluster.local',
      ],
      duration: '2160h',
      renewBefore: '720h',
      usages: ['server auth', 'digital signature'],
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'corp-ca' },
    });
    // The registry and the Ingress serve the Secret cert-manager writes.
    const volumes = findOne(manifests, 'Deployment').spec.template.spec.volumes;
    expect(volumes).toContainEqual(expect.objectContaining({ name: 'tls', secret: expect.objectContaining({ secretName: 'registry-tls' }) }));
    expect(findOne(manifests, 'Ingress').spec.tls).toEqual([{ hosts: ['registry.example.com'], secretName: 'registry-tls' }]);
  });

  test('references a namespaced Issuer by default kind', () => {
    const manifests = registryChart(RegistryCertificate.fromCertManager({ issuer: { name: 'team-ca' } }));
    validate(manifests);
    expect(findOne(manifests, 'Certificate').spec.issuerRef).toEqual({ group: 'cert-manager.io', kind: 'Issuer', name: 'team-ca' });
  });

  test('creates a self-contained CA chain when no issuer is given', () => {
    // WHEN
    const manifests = registryChart(RegistryCertificate.fromCertManager({ duration: Duration.days(30), renewBefore: Duration.days(10) }));

    // THEN
    validate(manifests);
    const clusterIssuer = findOne(manifests, 'ClusterIssuer');
    expect(clusterIssuer).toEqual({
      apiVersion: 'cert-manager.io/v1',
      kind: 'ClusterIssuer',
      metadata: { name: 'registry-registry-tls-selfsigned' },
      spec: { selfSigned: {} },
    });
    const ca = findOne(manifests, 'Certificate', 'registry-tls-ca');
    expect(ca.metadata.namespace).toBe('registry');
    expect(ca.spec).toMatchObject({
      isCA: true,
      secretName: 'registry-tls-ca',
      duration: '43800h',
      issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'registry-registry-tls-selfsigned' },
    });
    const caIssuer = findOne(manifests, 'Issuer');
    expect(caIssuer.metadata).toEqual({ name: 'registry-tls-ca', namespace: 'registry' });
    expect(caIssuer.spec).toEqual({ ca: { secretName: 'registry-tls-ca' } });
    const leaf = findOne(manifests, 'Certificate', 'registry-tls');
    expect(leaf.spec).toMatchObject({
      duration: '720h',
      renewBefore: '240h',
      issuerRef: { group: 'cert-manager.io', kind: 'Issuer', name: 'registry-tls-ca' },
    });
  });

  test('the CRD validation rejects a malformed Certificate', () => {
    // Proves the schema check above can fail: a Certificate without its required issuerRef.
    const manifests = registryChart(RegistryCertificate.fromCertManager({ issuer: { name: 'corp-ca' } }));
    const broken = JSON.parse(JSON.stringify(findOne(manifests, 'Certificate')));
    delete broken.spec.issuerRef;
    broken.spec.duration = 90;
    expect(() => validateAgainstCrds([broken])).toThrow(/\/spec must have required property 'issuerRef'[\s\S]*\/spec\/duration must be string/);
  });

  test('fails if renewBefore is not shorter than duration', () => {
    expect(() => registryChart(RegistryCertificate.fromCertManager({ duration: Duration.days(10), renewBefore: Duration.days(10) })))
      .toThrow(`'renewBefore' must be shorter than 'duration' (10 days), got "10 days"`);
  });

  test('fails if the duration is not a whole number of hours', () => {
    expect(() => registryChart(RegistryCertificate.fromCertManager({ duration: Duration.minutes(90) })))
      .toThrow(`'duration' must be a whole number of hours, at least 1, got "1 hour 30 minutes"`);
  });

  test('fails if the issuer name is not a Kubernetes name', () => {
    expect(() => registryChart(RegistryCertificate.fromCertManager({ issuer: { name: 'Corp CA' } })))
      .toThrow(`'issuer.name' must be a Kubernetes object name (lowercase DNS subdomain: letters, digits, "-" and ".", at most 253 characters), got "Corp CA"`);
  });
});
