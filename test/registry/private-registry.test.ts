import { App, Chart, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { parse } from 'yaml';
import {
  HtpasswdSource, IMAGES, INGRESS_NGINX_ANNOTATIONS, PrivateRegistry, PrivateRegistryProps,
  RegistryCertificate, RegistryStorage, RegistryWorkloadKind, TlsVersion,
} from '../../src';
import { findOne, Manifest, synth, validateAgainstKubernetesSchemas } from '../util/manifests';

const host = 'registry.example.com';

function registryChart(props: Partial<PrivateRegistryProps> = {}): { chart: Chart; registry: PrivateRegistry } {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'registry' });
  const registry = new PrivateRegistry(chart, 'Registry', { host, ...props });
  return { chart, registry };
}

function podSpec(manifests: Manifest[], kind = 'Deployment'): any {
  return findOne(manifests, kind).spec.template.spec;
}

describe('PrivateRegistry with defaults', () => {
  const { chart, registry } = registryChart();
  const manifests = synth(chart);

  test('matches the snapshot', () => {
    expect(manifests).toMatchSnapshot();
  });

  test('every object is valid Kubernetes 1.30', () => {
    validateAgainstKubernetesSchemas(manifests);
  });

  test('exposes the names consumers need', () => {
    expect(registry.host).toBe(host);
    expect(registry.namespace).toBe('registry');
    expect(registry.serviceDnsNames).toEqual(['registry.registry.svc', 'registry.registry.svc.cluster.local']);
    expect(registry.imageReference('team/app', `sha256:${'a'.repeat(64)}`)).toBe(`${host}/team/app@sha256:${'a'.repeat(64)}`);
  });

  test('the Service is ClusterIP on 443 and nothing yields a NodePort or LoadBalancer', () => {
    const service = findOne(manifests, 'Service');
    expect(service.spec.type).toBe('ClusterIP');
    expect(service.spec.ports).toEqual([{ name: 'https', port: 443, protocol: 'TCP', targetPort: 5000 }]);
    expect(JSON.stringify(manifests)).not.toMatch(/NodePort|nodePort|LoadBalancer/);
  });

  test('runs the pinned registry image under the restricted Pod Security Standard', () => {
    const spec = podSpec(manifests);
    const [container] = spec.containers;
    expect(container.image).toBe(IMAGES.registry);
    expect(container.image).toMatch(/@sha256:[a-f0-9]{64}$/);
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.securityContext).toMatchObject({
      runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: 1000,
      runAsNonRoot: true,
      runAsUser: 1000,
    });
    expect(container.resources.limits).toEqual({ cpu: '1', memory: '512Mi' });
  });

  test('probes an unauthenticated path over HTTPS', () => {
    const [container] = podSpec(manifests).containers;
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe.httpGet).toEqual({ path: '/', port: 5000, scheme: 'HTTPS' });
    }
  });

  test('uses Recreate so a ReadWriteOnce volume is released before the new pod starts', () => {
    expect(findOne(manifests, 'Deployment').spec.strategy).toEqual({ type: 'Recreate' });
    expect(findOne(manifests, 'PersistentVolumeClaim').spec).toMatchObject({
      accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } },
    });
  });

  test('mounts config, htpasswd, TLS and data where config.yml expects them', () => {
    const [container] = podSpec(manifests).containers;
    expect(container.volumeMounts.map((m: any) => [m.name, m.mountPath])).toEqual([
      ['config', '/etc/docker/registry'], ['htpasswd', '/auth'], ['tls', '/certs'], ['data', '/var/lib/registry'], ['tmp', '/tmp'],
    ]);
    const volumes = podSpec(manifests).volumes;
    expect(volumes.find((v: any) => v.name === 'htpasswd').secret.secretName).toBe('registry-htpasswd');
    expect(volumes.find((v: any) => v.name === 'tls').secret.secretName).toBe('registry-tls');
  });

  test('config.yml serves TLS 1.2+, htpasswd auth, delete, nosniff, relative URLs and no fixed host', () => {
    const config = parse(findOne(manifests, 'ConfigMap').data['config.yml']);
    expect(config.http).toEqual({
      addr: ':5000',
      relativeurls: true,
      tls: { certificate: '/certs/tls.crt', key: '/certs/tls.key', minimumtls: 'tls1.2' },
      headers: { 'X-Content-Type-Options': ['nosniff'] },
    });
    expect(config.auth).toEqual({ htpasswd: { realm: 'Registry', path: '/auth/htpasswd' } });
    expect(config.storage.delete).toEqual({ enabled: true });
    expect(config.storage.filesystem).toEqual({ rootdirectory: '/var/lib/registry' });
    expect(config.health.storagedriver.enabled).toBe(true);
  });

  test('the Ingress terminates TLS for the host and passes pushes through unbuffered to the HTTPS backend', () => {
    const ingress = findOne(manifests, 'Ingress');
    expect(ingress.spec.tls).toEqual([{ hosts: [host], secretName: 'registry-tls' }]);
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.metadata.annotations).toEqual(INGRESS_NGINX_ANNOTATIONS);
    expect(ingress.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'registry', port: { number: 443 } });
  });

  test('synthesizes no secret material', () => {
    expect(manifests.map((m) => m.kind)).not.toContain('Secret');
  });
});

describe('PrivateRegistry options', () => {
  test('users given to the construct become an htpasswd Secret of hashes', () => {
    // GIVEN
    const password = 'a-long-random-password-0123';

    // WHEN
    const { chart } = registryChart({ htpasswd: HtpasswdSource.fromUsers([{ username: 'ci', password }]) });

    // THEN
    const manifests = synth(chart);
    validateAgainstKubernetesSchemas(manifests);
    const secret = findOne(manifests, 'Secret', 'registry-htpasswd');
    expect(secret.stringData.htpasswd).toMatch(/^ci:\$2y\$04\$/);
    expect(JSON.stringify(manifests)).not.toContain(password);
    expect(manifests).toMatchSnapshot();
  });

  test('existing claim, Secrets and custom settings are referenced, not created', () => {
    // WHEN
    const { chart } = registryChart({
      name: 'images',
      storage: RegistryStorage.fromClaimName('shared-images'),
      htpasswd: HtpasswdSource.fromSecretName('my-users', 'users'),
      certificate: RegistryCertificate.fromSecretName('my-tls'),
      ingressClassName: 'traefik',
      ingressAnnotations: { 'traefik.ingress.kubernetes.io/router.tls': 'true' },
      config: { minimumTls: TlsVersion.TLS_1_3, deleteEnabled: false },
    });

    // THEN
    const manifests = synth(chart);
    validateAgainstKubernetesSchemas(manifests);
    expect(manifests.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Ingress', 'Service']);
    const volumes = podSpec(manifests).volumes;
    expect(volumes.find((v: any) => v.name === 'data').persistentVolumeClaim.claimName).toBe('shared-images');
    expect(volumes.find((v: any) => v.name === 'htpasswd').secret).toEqual({ secretName: 'my-users', items: [{ key: 'users', path: 'htpasswd' }] });
    const ingress = findOne(manifests, 'Ingress', 'images');
    expect(ingress.metadata.annotations).toEqual({ 'traefik.ingress.kubernetes.io/router.tls': 'true' });
    expect(ingress.spec.tls[0].secretName).toBe('my-tls');
    const config = parse(findOne(manifests, 'ConfigMap', 'images-config').data['config.yml']);
    expect(config.http.tls.minimumtls).toBe('tls1.3');
    expect(config.storage.delete.enabled).toBe(false);
  });

  test('several replicas on shared storage roll with a shared http secret', () => {
    // WHEN
    const { chart } = registryChart({
      replicas: 3,
      storage: RegistryStorage.newClaim({ accessMode: kplus.PersistentVolumeAccessMode.READ_WRITE_MANY, size: Size.gibibytes(100), storageClassName: 'nfs' }),
      httpSecret: kplus.Secret.fromSecretName(Testing.chart(), 'HttpSecret', 'registry-http-secret'),
    });

    // THEN
    const manifests = synth(chart);
    validateAgainstKubernetesSchemas(manifests);
    const deployment = findOne(manifests, 'Deployment');
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.strategy.type).toBe('RollingUpdate');
    expect(deployment.spec.template.spec.containers[0].env).toEqual([
      { name: 'REGISTRY_HTTP_SECRET', valueFrom: { secretKeyRef: { key: 'http-secret', name: 'registry-http-secret' } } },
    ]);
    expect(findOne(manifests, 'PersistentVolumeClaim').spec).toMatchObject({ accessModes: ['ReadWriteMany'], storageClassName: 'nfs' });
    expect(manifests).toMatchSnapshot();
  });

  test('a StatefulSet runs the same hardened pod behind the same Service', () => {
    // WHEN
    const { chart } = registryChart({ workloadKind: RegistryWorkloadKind.STATEFUL_SET, ingress: false });

    // THEN
    const manifests = synth(chart);
    validateAgainstKubernetesSchemas(manifests);
    const statefulSet = findOne(manifests, 'StatefulSet');
    expect(statefulSet.spec.serviceName).toBe('registry');
    expect(statefulSet.spec.template.spec.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    expect(statefulSet.spec.template.spec.containers[0].securityContext.capabilities).toEqual({ drop: ['ALL'] });
    expect(manifests.map((m) => m.kind)).not.toContain('Ingress');
    expect(manifests).toMatchSnapshot();
  });

  test('two synths of the same input are byte-identical', () => {
    const render = () => {
      const { chart } = registryChart({ htpasswd: HtpasswdSource.fromUsers([{ username: 'ci', password: 'p'.repeat(20) }]) });
      return (chart.node.root as App).synthYaml();
    };
    expect(render()).toBe(render());
  });
});

describe('PrivateRegistry input errors', () => {
  test.each<[string, Partial<PrivateRegistryProps>, string]>([
    ['the host has a scheme', { host: 'https://reg.io/' }, `'host' must be a lowercase DNS name with at least one dot, without scheme, port or path (e.g. "registry.example.com"), got "https://reg.io/"`],
    ['the host has a port', { host: 'reg.io:5000' }, `'host' must be a lowercase DNS name with at least one dot, without scheme, port or path (e.g. "registry.example.com"), got "reg.io:5000"`],
    ['the host is uppercase', { host: 'Registry.io' }, `got "Registry.io"`],
    ['the host has no dot', { host: 'registry' }, `got "registry"`],
    ['the name is not a Kubernetes name', { name: 'My_Registry' }, `'name' must be a DNS-1035 label (it names a Service): lowercase letters, digits and "-", starting with a letter, ending with a letter or digit, at most 40 characters, got "My_Registry"`],
    ['the image is not pinned by digest', { image: 'registry:2' }, `'image' must be pinned by digest ("<name>@sha256:<64 lowercase hex>" or "<name>:<tag>@sha256:<64 lowercase hex>"), got "registry:2"`],
    ['replicas is zero', { replicas: 0 }, `'replicas' must be an integer from 1 to 100, got 0`],
    ['replicas is fractional', { replicas: 1.5 }, `'replicas' must be an integer from 1 to 100, got 1.5`],
    ['several replicas use ReadWriteOnce storage', { replicas: 2 }, `'replicas' can be more than 1 only with shared storage (RegistryStorage.newClaim({ accessMode: READ_WRITE_MANY }) or fromClaimName(name, { shared: true })), got 2`],
    ['several replicas have no http secret', { replicas: 2, storage: RegistryStorage.fromClaimName('nfs', { shared: true }) }, `'httpSecret' must be set when 'replicas' is more than 1 (every pod must sign upload state with the same secret; replicas is 2), got undefined`],
    ['the ingress class is not a Kubernetes name', { ingressClassName: 'Nginx!' }, `'ingressClassName' must be a Kubernetes object name (lowercase DNS subdomain: letters, digits, "-" and ".", at most 253 characters), got "Nginx!"`],
  ])('fails if %s', (_, props, message) => {
    expect(() => registryChart(props)).toThrow(message);
  });

  test('fails if the chart has no namespace', () => {
    expect(() => new PrivateRegistry(Testing.chart(), 'Registry', { host }))
      .toThrow(`'namespace' must be set on the Chart that contains a PrivateRegistry (its in-cluster DNS names depend on it), got undefined`);
  });

  test.each<[string, () => unknown, string]>([
    ['an existing claim name is invalid', () => RegistryStorage.fromClaimName(''), `'claimName' must be a Kubernetes object name`],
    ['a new claim is empty', () => RegistryStorage.newClaim({ size: Size.gibibytes(0) }), `'storage.size' must be a whole number of MiB from 1Mi to 1Pi (e.g. Size.gibibytes(20) or Size.mebibytes(1536)), got "0Gi"`],
    ['a storage class name is invalid', () => RegistryStorage.newClaim({ storageClassName: 'Fast SSD' }), `'storage.storageClassName' must be a Kubernetes object name`],
    ['an htpasswd Secret name is invalid', () => HtpasswdSource.fromSecretName('Users'), `'htpasswd secretName' must be a Kubernetes object name`],
    ['an htpasswd key is invalid', () => HtpasswdSource.fromSecretName('users', 'a/b'), `'htpasswd key' must be a Secret data key (letters, digits, "-", "_" and "."), got "a/b"`],
    ['a certificate Secret name is invalid', () => RegistryCertificate.fromSecretName('TLS'), `'certificate secretName' must be a Kubernetes object name`],
    ['an image repository is invalid', () => registryChart().registry.imageReference('Team/App', `sha256:${'a'.repeat(64)}`), `'repository' must be a lowercase repository path such as "team/app", got "Team/App"`],
    ['an image digest is invalid', () => registryChart().registry.imageReference('team/app', 'sha256:abc'), `'digest' must be "sha256:" followed by 64 lowercase hex characters, got "sha256:abc"`],
  ])('fails if %s', (_, build, message) => {
    expect(build).toThrow(message);
  });
});
