import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Chart, Duration, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { NodeTrust, NodeTrustMode, NodeTrustProps, PrivateRegistry, RegistryCertificate, TrustedRegistryChart } from '../../src';
import { IMAGES } from '../../src/images';
import { renderNodeTrustScript, renderServiceResolverScript } from '../../src/tls/node-trust-script';
import { findOne, Manifest, synth, validateAgainstKubernetesSchemas } from '../util/manifests';

const HOST = 'registry.example.com';
const NAME = 'registry-registry-node-trust';

/** A registry with a self-signed certificate and NodeTrust with the props `props(certificatePem)`. */
function nodeTrustChart(props: (certificatePem: string) => Omit<NodeTrustProps, 'registry'>): { manifests: Manifest[]; certificatePem: string; chart: Chart } {
  const chart = new Chart(Testing.app(), 'x', { namespace: 'registry' });
  const certificate = RegistryCertificate.selfSigned({ seed: 'node-trust-test-seed-0123456789abcdef', notBefore: new Date('2025-01-01T00:00:00Z') });
  const registry = new PrivateRegistry(chart, 'Registry', { host: HOST, certificate });
  new NodeTrust(chart, 'NodeTrust', { registry, ...props(certificate.certificatePem) });
  return { manifests: synth(chart), certificatePem: certificate.certificatePem, chart };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const podOf = (manifests: Manifest[]) => findOne(manifests, 'DaemonSet', NAME).spec.template;
const containerOf = (manifests: Manifest[], name: string) => podOf(manifests).spec.containers.find((c: any) => c.name === name);
const hostPaths = (manifests: Manifest[]) => podOf(manifests).spec.volumes.filter((v: any) => v.hostPath).map((v: any) => v.hostPath);

describe('NodeTrust', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  describe('in containerd mode with an inline CA', () => {
    const { manifests, certificatePem } = nodeTrustChart((pem) => ({ caCertificate: pem }));
    const pod = podOf(manifests);
    const writer = containerOf(manifests, 'node-trust');
    const resolver = containerOf(manifests, 'resolve');

    test('every object is valid Kubernetes 1.30', () => {
      validateAgainstKubernetesSchemas(manifests);
    });

    test('ships the scripts the script tests run, and the CA, in a ConfigMap in kube-system', () => {
      const configMap = findOne(manifests, 'ConfigMap', NAME);
      expect(configMap.metadata.namespace).toBe('kube-system');
      expect(configMap.data).toEqual({
        'ca.crt': certificatePem,
        'node-trust.sh': renderNodeTrustScript({ registryHost: HOST, serviceCidrs: ['10.96.0.0/12'], mode: NodeTrustMode.CONTAINERD, intervalSeconds: 60 }),
        'resolve-service.sh': renderServiceResolverScript({ serviceName: 'registry', serviceNamespace: 'registry', intervalSeconds: 60 }),
      });
    });

    test('mounts only what it writes: certs.d/<host>/ and /etc/hosts, never the whole certs.d', () => {
      expect(hostPaths(manifests)).toEqual([
        { path: `/etc/containerd/certs.d/${HOST}`, type: 'DirectoryOrCreate' },
        { path: '/etc/hosts', type: 'File' },
      ]);
      expect(writer.volumeMounts.filter((m: any) => m.mountPath.startsWith('/host/')).map((m: any) => m.mountPath)).toEqual([
        `/host/etc/containerd/certs.d/${HOST}`,
        '/host/etc/hosts',
      ]);
      // The resolver, which holds the token, sees no host path.
      const hostVolumes = pod.spec.volumes.filter((v: any) => v.hostPath).map((v: any) => v.name);
      expect(resolver.volumeMounts.filter((m: any) => hostVolumes.includes(m.name))).toEqual([]);
    });

    test('runs the writer as uid 0 without privilege or any capability, and the resolver as non-root', () => {
      expect(pod.spec.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
      expect(pod.spec.hostNetwork ?? false).toBe(false);
      expect(pod.spec.hostPID ?? false).toBe(false);
      expect(writer.securityContext).toEqual({
        runAsUser: 0,
        runAsGroup: 0,
        runAsNonRoot: false,
        privileged: false,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(resolver.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      for (const container of pod.spec.containers) {
        expect(container.securityContext.capabilities.add).toBeUndefined();
        expect(container.image).toMatch(/@sha256:[a-f0-9]{64}$/);
      }
      expect(writer.image).toBe(IMAGES.busybox);
      expect(resolver.image).toBe(IMAGES.kubectl);
    });

    test('gives only the resolver an API token, for a ServiceAccount that may get the registry Service and nothing else', () => {
      expect(pod.spec.automountServiceAccountToken).toBe(false);
      expect(pod.spec.serviceAccountName).toBe(NAME);
      const tokenVolume = pod.spec.volumes.find((v: any) => v.projected?.sources?.some((s: any) => s.serviceAccountToken));
      expect(resolver.volumeMounts).toContainEqual(expect.objectContaining({ name: tokenVolume.name, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }));
      expect(writer.volumeMounts.map((m: any) => m.name)).not.toContain(tokenVolume.name);

      expect(findOne(manifests, 'ServiceAccount', NAME)).toMatchObject({ metadata: { namespace: 'kube-system' }, automountServiceAccountToken: false });
      const role = findOne(manifests, 'Role', NAME);
      expect(role.metadata.namespace).toBe('registry');
      expect(role.rules).toEqual([{ apiGroups: [''], resources: ['services'], resourceNames: ['registry'], verbs: ['get'] }]);
      const binding = findOne(manifests, 'RoleBinding', NAME);
      expect(binding.metadata.namespace).toBe('registry');
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAME });
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: NAME, namespace: 'kube-system' }]);
      expect(manifests.filter((m) => /^Cluster/.test(m.kind))).toEqual([]);
    });

    test('keeps the writer\'s and the resolver\'s temporary files apart, and shares only the answer', () => {
      const volumeOf = (container: any, path: string) => container.volumeMounts.find((m: any) => m.mountPath === path);
      expect(volumeOf(writer, '/tmp').name).not.toBe(volumeOf(resolver, '/tmp').name);
      expect(volumeOf(writer, '/run/node-trust')).toMatchObject({ name: 'answer', readOnly: true });
      expect(volumeOf(resolver, '/run/node-trust').name).toBe('answer');
    });

    test('carries the SHA-256 of each script and of the CA in the pod template, so that a change rolls the pods', () => {
      const configMap = findOne(manifests, 'ConfigMap', NAME);
      expect(pod.metadata.annotations).toEqual({
        'node-trust.cdk8s-trusted-registry/sha256-node-trust.sh': sha256(configMap.data['node-trust.sh']),
        'node-trust.cdk8s-trusted-registry/sha256-resolve-service.sh': sha256(configMap.data['resolve-service.sh']),
        'node-trust.cdk8s-trusted-registry/sha256-ca.crt': sha256(configMap.data['ca.crt']),
      });
      const other = podOf(nodeTrustChart((pem) => ({ caCertificate: pem, interval: Duration.minutes(2) })).manifests);
      expect(other.metadata.annotations['node-trust.cdk8s-trusted-registry/sha256-node-trust.sh']).not.toBe(pod.metadata.annotations['node-trust.cdk8s-trusted-registry/sha256-node-trust.sh']);
    });

    test('the writer refuses to run a script or CA whose hash is not the pod\'s annotation', () => {
      // GIVEN the container's command, its files under a temporary directory, and its environment
      const dir = mkdtempSync(join(tmpdir(), 'node-trust-verify-'));
      try {
        mkdirSync(join(dir, 'script'));
        mkdirSync(join(dir, 'ca'));
        const script = 'echo "script ran"\n';
        writeFileSync(join(dir, 'script', 'node-trust.sh'), script);
        writeFileSync(join(dir, 'ca', 'ca.crt'), certificatePem);
        expect(writer.command.slice(0, 2)).toEqual(['sh', '-c']);
        const command = writer.command[2].replace(/\/etc\/node-trust\//g, `${dir}/`);
        const fromAnnotations = Object.fromEntries(writer.env.filter((e: any) => e.valueFrom).map((e: any) => {
          const key = /^metadata\.annotations\['(.+)'\]$/.exec(e.valueFrom.fieldRef.fieldPath)![1];
          return [e.name, pod.metadata.annotations[key]];
        }));
        expect(Object.keys(fromAnnotations).sort()).toEqual(['SHA256_CA_CRT', 'SHA256_NODE_TRUST_SH']);
        const run = (env: Record<string, string>) => spawnSync('sh', ['-c', command], { encoding: 'utf-8', env: { PATH: process.env.PATH, ...fromAnnotations, ...env } });

        // WHEN the mounted script is not the synthesized one
        const tampered = run({});

        // THEN
        expect(tampered.status).toBe(2);
        expect(tampered.stdout).toBe('');
        expect(tampered.stderr).toBe(`node-trust: ${dir}/script/node-trust.sh does not match the pod's annotation node-trust.cdk8s-trusted-registry/sha256-node-trust.sh: refusing to run\n`);

        // WHEN the script matches but the CA does not
        writeFileSync(join(dir, 'ca', 'ca.crt'), 'another CA');
        const badCa = run({ SHA256_NODE_TRUST_SH: sha256(script) });
        expect(badCa.status).toBe(2);
        expect(badCa.stderr).toContain('ca.crt does not match');

        // WHEN both match
        writeFileSync(join(dir, 'ca', 'ca.crt'), certificatePem);
        expect(run({ SHA256_NODE_TRUST_SH: sha256(script) })).toMatchObject({ status: 0, stdout: 'script ran\n' });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('runs on every node before other pods, as a system-node-critical pod', () => {
      expect(pod.spec.tolerations).toEqual([{ operator: 'Exists' }]);
      expect(pod.spec.priorityClassName).toBe('system-node-critical');
    });
  });

  test('in k3s mode mounts registries.yaml and its own CA folder, never /etc/rancher/k3s (admin kubeconfig), and checks k3s\' Service range', () => {
    const { manifests } = nodeTrustChart((pem) => ({ caCertificate: pem, mode: NodeTrustMode.K3S, interval: Duration.minutes(5), namespace: 'node-setup' }));
    validateAgainstKubernetesSchemas(manifests);
    const configMap = findOne(manifests, 'ConfigMap', NAME);
    expect(configMap.metadata.namespace).toBe('node-setup');
    expect(configMap.data['node-trust.sh']).toContain('registries.yaml');
    expect(configMap.data['node-trust.sh']).toContain('sleep 300 &');
    expect(configMap.data['node-trust.sh']).toContain('SERVICE_CIDRS=\'10.43.0.0/16\'');
    expect(hostPaths(manifests)).toEqual([
      { path: '/etc/rancher/k3s/registries.yaml', type: 'FileOrCreate' },
      { path: `/etc/rancher/k3s/trusted-registry/${HOST}`, type: 'DirectoryOrCreate' },
      { path: '/etc/hosts', type: 'File' },
    ]);
  });

  test('checks the Service range it is given', () => {
    const { manifests } = nodeTrustChart((pem) => ({ caCertificate: pem, serviceCidrs: ['10.100.0.0/16', 'fd00:100::/108'] }));
    expect(findOne(manifests, 'ConfigMap', NAME).data['node-trust.sh']).toContain('SERVICE_CIDRS=\'10.100.0.0/16 fd00:100::/108\'');
  });

  test('reads the CA from an existing ConfigMap, mounted as a directory so that a new CA reaches running pods', () => {
    const { manifests } = nodeTrustChart(() => ({ caConfigMapName: 'registry-ca' }));
    validateAgainstKubernetesSchemas(manifests);
    expect(findOne(manifests, 'ConfigMap', NAME).data['ca.crt']).toBeUndefined();
    const pod = podOf(manifests);
    expect(pod.spec.volumes).toContainEqual({ name: 'ca', configMap: { name: 'registry-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
    expect(containerOf(manifests, 'node-trust').volumeMounts).toContainEqual({ name: 'ca', mountPath: '/etc/node-trust/ca', readOnly: true });
    expect(Object.keys(pod.metadata.annotations)).not.toContain('node-trust.cdk8s-trusted-registry/sha256-ca.crt');
  });

  test('two installs of the registry in different namespaces get distinct NodeTrust objects in kube-system', () => {
    const app = Testing.app();
    const names = ['images-a', 'images-b'].map((namespace) => {
      const chart = new Chart(app, namespace, { namespace });
      const registry = new PrivateRegistry(chart, 'Registry', { host: `${namespace}.example.com` });
      return new NodeTrust(chart, 'NodeTrust', { registry, caConfigMapName: 'registry-ca' }).daemonSet.name;
    });
    expect(names).toEqual(['images-a-registry-node-trust', 'images-b-registry-node-trust']);
  });

  test.each<[string, () => unknown, string]>([
    ['neither CA source is given', () => nodeTrustChart(() => ({})), `'caCertificate' or 'caConfigMapName' must be given (exactly one of them), got "neither"`],
    ['both CA sources are given', () => nodeTrustChart((pem) => ({ caCertificate: pem, caConfigMapName: 'registry-ca' })), `'caCertificate' or 'caConfigMapName' must be given (exactly one of them), got "both"`],
    ['the image is not pinned by digest', () => nodeTrustChart((pem) => ({ caCertificate: pem, image: 'busybox:1.36.1' })),
      `'image' must be pinned by digest ("<name>@sha256:<64 lowercase hex>" or "<name>:<tag>@sha256:<64 lowercase hex>"), got "busybox:1.36.1"`],
    ['the kubectl image is not pinned by digest', () => nodeTrustChart((pem) => ({ caCertificate: pem, kubectlImage: 'kubectl:1.33' })), `'kubectlImage' must be pinned by digest`],
    ['the Service range is any address', () => nodeTrustChart((pem) => ({ caCertificate: pem, serviceCidrs: ['0.0.0.0/0'] })),
      `'serviceCidrs' must be no wider than /8: a wider range would accept addresses that are not ClusterIPs, got "0.0.0.0/0"`],
    ['the name is not a DNS label', () => nodeTrustChart((pem) => ({ caCertificate: pem, name: 'node.trust' })), `'name' must be a DNS label (lowercase letters, digits and "-", at most 63 characters), got "node.trust"`],
    ['the mode is unknown (from JavaScript)', () => nodeTrustChart((pem) => ({ caCertificate: pem, mode: 'cri-o' as NodeTrustMode })), `'mode' must be one of "containerd", "k3s", got "cri-o"`],
  ])('fails if %s', (_, build, message) => {
    expect(build).toThrow(message);
  });

  test('fails if the CA is not a PEM certificate', () => {
    expect(() => nodeTrustChart(() => ({ caCertificate: 'not a certificate' })))
      .toThrow(/^'caCertificate' must be a PEM certificate \("-----BEGIN CERTIFICATE-----..."\): .*, got "not a certificate..."$/);
  });

  test('fails if the default name is too long, asking for a shorter one', () => {
    const chart = new Chart(Testing.app(), 'x', { namespace: `n${'s'.repeat(40)}` });
    const registry = new PrivateRegistry(chart, 'Registry', { host: HOST, name: `r${'e'.repeat(20)}` });
    expect(() => new NodeTrust(chart, 'NodeTrust', { registry, caConfigMapName: 'ca' })).toThrow(
      /^'name' must be a DNS label \(lowercase letters, digits and "-", at most 63 characters\): the default <registry namespace>-<registry name>-node-trust is too long, give a shorter one, got "/,
    );
  });

  describe('refuses at synth a namespace whose Pod Security level refuses its pod', () => {
    test.each(['restricted', 'baseline'])('fails if its Namespace in the app enforces %s', (level) => {
      // GIVEN
      const chart = new Chart(Testing.app(), 'x', { namespace: 'registry' });
      new kplus.Namespace(chart, 'NodeSetup', { metadata: { name: 'node-setup', labels: { 'pod-security.kubernetes.io/enforce': level } } });
      const registry = new PrivateRegistry(chart, 'Registry', { host: HOST });
      new NodeTrust(chart, 'NodeTrust', { registry, caConfigMapName: 'registry-ca', namespace: 'node-setup' });

      // THEN
      expect(() => synth(chart)).toThrow(
        `'namespace' must admit privileged pods, got "node-setup", whose Namespace in this app is labelled pod-security.kubernetes.io/enforce=${level}: the API server would refuse every NodeTrust pod (hostPath volumes, uid 0); use a namespace without that label, e.g. "kube-system"`,
      );
    });

    test('fails if TrustedRegistryChart is asked to run it in the registry\'s own (restricted) namespace', () => {
      const chart = new TrustedRegistryChart(Testing.app(), 'chart', {
        registry: { certificate: RegistryCertificate.selfSigned({ seed: 'node-trust-test-seed-0123456789abcdef', notBefore: new Date('2025-01-01T00:00:00Z') }) },
        nodeTrust: { namespace: 'registry' },
      });
      expect(() => synth(chart)).toThrow(/'namespace' must admit privileged pods, got "registry", whose Namespace in this app is labelled pod-security.kubernetes.io\/enforce=restricted/);
    });

    test('accepts a Namespace labelled privileged', () => {
      const chart = new Chart(Testing.app(), 'x', { namespace: 'registry' });
      new kplus.Namespace(chart, 'NodeSetup', { metadata: { name: 'node-setup', labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } } });
      const registry = new PrivateRegistry(chart, 'Registry', { host: HOST });
      new NodeTrust(chart, 'NodeTrust', { registry, caConfigMapName: 'registry-ca', namespace: 'node-setup' });
      expect(() => synth(chart)).not.toThrow();
    });
  });
});
