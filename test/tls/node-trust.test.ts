import { Chart, Duration, Testing } from 'cdk8s';
import { NodeTrust, NodeTrustMode, NodeTrustProps, PrivateRegistry, RegistryCertificate } from '../../src';
import { IMAGES } from '../../src/images';
import { renderNodeTrustScript } from '../../src/tls/node-trust-script';
import { findOne, Manifest, synth, validateAgainstKubernetesSchemas } from '../util/manifests';

/** A registry with a self-signed certificate and NodeTrust with the props `props(certificatePem)`. */
function nodeTrustChart(props: (certificatePem: string) => Omit<NodeTrustProps, 'registry'>): { manifests: Manifest[]; certificatePem: string } {
  const chart = new Chart(Testing.app(), 'x', { namespace: 'registry' });
  const certificate = RegistryCertificate.selfSigned({ seed: 'node-trust-test-seed-0123456789abcdef', notBefore: new Date('2025-01-01T00:00:00Z') });
  const registry = new PrivateRegistry(chart, 'Registry', { host: 'registry.example.com', certificate });
  new NodeTrust(chart, 'NodeTrust', { registry, ...props(certificate.certificatePem) });
  return { manifests: synth(chart), certificatePem: certificate.certificatePem };
}

describe('NodeTrust', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  test('runs the script on every node as a privileged DaemonSet in kube-system with the host paths it writes', () => {
    // WHEN
    const { manifests, certificatePem } = nodeTrustChart((pem) => ({ caCertificate: pem }));

    // THEN
    validateAgainstKubernetesSchemas(manifests);
    const configMap = findOne(manifests, 'ConfigMap', 'registry-node-trust');
    expect(configMap.metadata.namespace).toBe('kube-system');
    expect(configMap.data['ca.crt']).toBe(certificatePem);
    // The deployed script is the one the script tests run.
    expect(configMap.data['node-trust.sh']).toBe(renderNodeTrustScript({
      registryHost: 'registry.example.com',
      serviceDnsName: 'registry.registry.svc.cluster.local',
      mode: NodeTrustMode.CONTAINERD,
      intervalSeconds: 60,
    }));

    const daemonSet = findOne(manifests, 'DaemonSet', 'registry-node-trust');
    expect(daemonSet.metadata.namespace).toBe('kube-system');
    const pod = daemonSet.spec.template.spec;
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.hostNetwork).toBeFalsy();
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers).toHaveLength(1);
    const container = pod.containers[0];
    expect(container.image).toBe(IMAGES.busybox);
    expect(container.command).toEqual(['sh', '/etc/node-trust/script/node-trust.sh']);
    expect(container.securityContext).toMatchObject({ privileged: true, runAsUser: 0, readOnlyRootFilesystem: true });
    expect(pod.volumes).toEqual(expect.arrayContaining([
      { name: 'runtime-config', hostPath: { path: '/etc/containerd/certs.d', type: 'DirectoryOrCreate' } },
      { name: 'hosts', hostPath: { path: '/etc/hosts', type: 'File' } },
      expect.objectContaining({ name: 'ca', configMap: expect.objectContaining({ name: 'registry-node-trust' }) }),
    ]));
    expect(container.volumeMounts).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: 'runtime-config', mountPath: '/host/etc/containerd/certs.d' }),
      expect.objectContaining({ name: 'hosts', mountPath: '/host/etc/hosts' }),
      expect.objectContaining({ name: 'ca', mountPath: '/etc/node-trust/ca', readOnly: true }),
    ]));
    expect(daemonSet.spec.template.metadata.annotations['checksum/config']).toMatch(/^[a-f0-9]{64}$/);
  });

  test('writes k3s\' configuration directory in k3s mode, at the given interval and namespace', () => {
    const { manifests } = nodeTrustChart((pem) => ({ caCertificate: pem, mode: NodeTrustMode.K3S, interval: Duration.minutes(5), namespace: 'node-setup' }));
    validateAgainstKubernetesSchemas(manifests);
    const configMap = findOne(manifests, 'ConfigMap', 'registry-node-trust');
    expect(configMap.metadata.namespace).toBe('node-setup');
    expect(configMap.data['node-trust.sh']).toContain('registries.yaml');
    expect(configMap.data['node-trust.sh']).toContain('sleep 300 &');
    const pod = findOne(manifests, 'DaemonSet').spec.template.spec;
    expect(pod.volumes).toContainEqual({ name: 'runtime-config', hostPath: { path: '/etc/rancher/k3s', type: 'DirectoryOrCreate' } });
  });

  test('reads the CA from an existing ConfigMap', () => {
    const { manifests } = nodeTrustChart(() => ({ caConfigMapName: 'registry-ca' }));
    validateAgainstKubernetesSchemas(manifests);
    expect(findOne(manifests, 'ConfigMap', 'registry-node-trust').data['ca.crt']).toBeUndefined();
    expect(findOne(manifests, 'DaemonSet').spec.template.spec.volumes).toContainEqual(
      expect.objectContaining({ name: 'ca', configMap: expect.objectContaining({ name: 'registry-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] }) }),
    );
  });

  test('fails if neither CA source is given', () => {
    expect(() => nodeTrustChart(() => ({}))).toThrow(`'caCertificate' or 'caConfigMapName' must be given (exactly one of them), got "neither"`);
  });

  test('fails if both CA sources are given', () => {
    expect(() => nodeTrustChart((pem) => ({ caCertificate: pem, caConfigMapName: 'registry-ca' })))
      .toThrow(`'caCertificate' or 'caConfigMapName' must be given (exactly one of them), got "both"`);
  });

  test('fails if the CA is not a PEM certificate', () => {
    expect(() => nodeTrustChart(() => ({ caCertificate: 'not a certificate' })))
      .toThrow(/^'caCertificate' must be a PEM certificate \("-----BEGIN CERTIFICATE-----..."\): .*, got "not a certificate..."$/);
  });

  test('fails if the image is not pinned by digest', () => {
    expect(() => nodeTrustChart((pem) => ({ caCertificate: pem, image: 'busybox:1.36.1' })))
      .toThrow(`'image' must be pinned by digest ("<name>@sha256:<64 lowercase hex>" or "<name>:<tag>@sha256:<64 lowercase hex>"), got "busybox:1.36.1"`);
  });
});
