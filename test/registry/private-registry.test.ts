import { App, Chart, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { parse } from 'yaml';
import { HtpasswdKeys, HtpasswdSource, PrivateRegistry, PrivateRegistryProps, PullCredentials, RegistryCertificate, RegistryStorage, RegistryWorkloadKind, TlsVersion } from '../../src';
import { IMAGES } from '../../src/images';
import { INGRESS_NGINX_ANNOTATIONS } from '../../src/registry/private-registry';
import { registryConfig, RegistryRole } from '../../src/registry/registry-config';
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
    expect(registry.service.name).toBe('registry');
    expect(registry.pushService.name).toBe('registry-push');
    expect(registry.pushServiceDnsNames).toEqual(['registry-push.registry.svc', 'registry-push.registry.svc.cluster.local']);
    expect(registry.imageReference('team/app', `sha256:${'a'.repeat(64)}`)).toBe(`${host}/team/app@sha256:${'a'.repeat(64)}`);
  });

  test('both Services are ClusterIP on 443 (the pull Service to the reader, the push Service to the writer) and nothing yields a NodePort or LoadBalancer', () => {
    const service = findOne(manifests, 'Service', 'registry');
    const pushService = findOne(manifests, 'Service', 'registry-push');
    expect(service.spec.type).toBe('ClusterIP');
    expect(pushService.spec.type).toBe('ClusterIP');
    expect(service.spec.ports).toEqual([{ name: 'https', port: 443, protocol: 'TCP', targetPort: 5000 }]);
    expect(pushService.spec.ports).toEqual([{ name: 'https', port: 443, protocol: 'TCP', targetPort: 5001 }]);
    const containers = podSpec(manifests).containers;
    expect(containers.map((c: any) => [c.name, c.ports])).toEqual([
      ['reader', [{ containerPort: 5000, name: 'https', protocol: 'TCP' }]],
      ['writer', [{ containerPort: 5001, name: 'https-push', protocol: 'TCP' }]],
    ]);
    expect(JSON.stringify(manifests)).not.toMatch(/NodePort|nodePort|LoadBalancer/);
  });

  test('runs the pinned registry image in both containers under the restricted Pod Security Standard, as uid/gid 65532', () => {
    const spec = podSpec(manifests);
    expect(spec.containers).toHaveLength(2);
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.securityContext).toMatchObject({
      runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' },
    });
    for (const container of spec.containers) {
      expect(container.image).toBe(IMAGES.registry);
      expect(container.image).toMatch(/@sha256:[a-f0-9]{64}$/);
      expect(container.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        privileged: false,
        readOnlyRootFilesystem: true,
        runAsGroup: 65532,
        runAsNonRoot: true,
        runAsUser: 65532,
      });
      expect(container.resources.limits).toEqual({ cpu: '1', memory: '512Mi' });
    }
  });

  test('probes an unauthenticated path over HTTPS on each container\'s own port', () => {
    const [reader, writer] = podSpec(manifests).containers;
    for (const [container, port] of [[reader, 5000], [writer, 5001]]) {
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        expect(probe.httpGet).toEqual({ path: '/', port, scheme: 'HTTPS' });
      }
    }
  });

  test('uses Recreate so a ReadWriteOnce volume is released before the new pod starts', () => {
    expect(findOne(manifests, 'Deployment').spec.strategy).toEqual({ type: 'Recreate' });
    expect(findOne(manifests, 'PersistentVolumeClaim').spec).toMatchObject({
      accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } },
    });
  });

  test('each container mounts its own config and htpasswd file where config.yml expects them; the reader mounts the data read-only', () => {
    const [reader, writer] = podSpec(manifests).containers;
    const volumes = podSpec(manifests).volumes;
    const volume = (name: string) => volumes.find((v: any) => v.name === name);
    for (const [container, name, key, dataReadOnly] of [[reader, 'reader', HtpasswdKeys.PULL, true], [writer, 'writer', HtpasswdKeys.PUSH, false]]) {
      expect(container.volumeMounts.map((m: any) => [m.name, m.mountPath, m.readOnly])).toEqual([
        [`${name}-config`, '/etc/docker/registry', true], [`${name}-htpasswd`, '/auth', true], ['tls', '/certs', true],
        ['data', '/var/lib/registry', dataReadOnly], [`${name}-tmp`, '/tmp', undefined],
      ]);
      expect(volume(`${name}-config`).configMap).toEqual({ name: 'registry-config', items: [{ key: `${name}.yml`, path: 'config.yml' }] });
      expect(volume(`${name}-htpasswd`).secret).toEqual({ secretName: 'registry-htpasswd', items: [{ key, path: 'htpasswd' }] });
    }
    expect(volume('tls').secret.secretName).toBe('registry-tls');
  });

  test('both config.yml serve TLS 1.2+, htpasswd auth, nosniff, relative URLs and no fixed host; the reader is read-only; nobody deletes', () => {
    const data = findOne(manifests, 'ConfigMap').data;
    expect(Object.keys(data).sort()).toEqual(['reader.yml', 'writer.yml']);
    const reader = parse(data['reader.yml']);
    const writer = parse(data['writer.yml']);
    for (const [config, port] of [[reader, 5000], [writer, 5001]]) {
      expect(config.http).toEqual({
        addr: `:${port}`,
        relativeurls: true,
        tls: { certificate: '/certs/tls.crt', key: '/certs/tls.key', minimumtls: 'tls1.2' },
        headers: { 'X-Content-Type-Options': ['nosniff'] },
      });
      expect(config.auth).toEqual({ htpasswd: { realm: 'Registry', path: '/auth/htpasswd' } });
      expect(config.storage.delete).toEqual({ enabled: false });
      expect(config.storage.filesystem).toEqual({ rootdirectory: '/var/lib/registry' });
      expect(config.storage.cache).toEqual({ blobdescriptor: 'inmemory' });
      expect(config.health.storagedriver.enabled).toBe(true);
    }
    expect(reader.storage.maintenance).toEqual({ uploadpurging: { enabled: false }, readonly: { enabled: true } });
    expect(writer.storage.maintenance.readonly).toBeUndefined();
    expect(writer.storage.maintenance.uploadpurging.enabled).toBe(true);
  });

  test('the Ingress terminates TLS for the host, passes pushes unbuffered to the writer and verifies its certificate', () => {
    const ingress = findOne(manifests, 'Ingress');
    expect(ingress.spec.tls).toEqual([{ hosts: [host], secretName: 'registry-tls' }]);
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.metadata.annotations).toEqual({
      ...INGRESS_NGINX_ANNOTATIONS,
      'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'on',
      'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'registry/registry-tls',
      'nginx.ingress.kubernetes.io/proxy-ssl-name': 'registry-push.registry.svc',
      'nginx.ingress.kubernetes.io/proxy-ssl-server-name': 'on',
      'nginx.ingress.kubernetes.io/proxy-ssl-protocols': 'TLSv1.2 TLSv1.3',
    });
    expect(ingress.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'registry-push', port: { number: 443 } });
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
    const { chart } = registryChart({
      htpasswd: HtpasswdSource.fromUsers({ pushUsers: [{ username: 'ci', password }], pullUsers: [{ username: 'nodes', password: `${password}-pull` }], saltSeed: 'a-secret-salt-seed-of-32-characters-or-more' }),
    });

    // THEN
    const manifests = synth(chart);
    validateAgainstKubernetesSchemas(manifests);
    const secret = findOne(manifests, 'Secret', 'registry-htpasswd');
    expect(secret.stringData[HtpasswdKeys.PUSH]).toMatch(/^ci:\$2y\$04\$\S{53}\n$/);
    expect(secret.stringData[HtpasswdKeys.PULL]).toMatch(/^nodes:\$2y\$04\$\S{53}\n$/);
    expect(JSON.stringify(manifests)).not.toContain(password);
    expect(manifests).toMatchSnapshot();
  });

  test('existing claim, Secrets and custom settings are referenced, not created', () => {
    // WHEN
    const { chart } = registryChart({
      name: 'images',
      storage: RegistryStorage.fromClaimName('shared-images'),
      htpasswd: HtpasswdSource.fromSecretName('my-users', { pullKey: 'readers', pushSecretName: 'ci-users', pushKey: 'writers' }),
      certificate: RegistryCertificate.fromSecretName('my-tls'),
      ingressClassName: 'traefik',
      ingressAnnotations: { 'traefik.ingress.kubernetes.io/router.tls': 'true' },
      config: { minimumTls: TlsVersion.TLS_1_3, deleteEnabled: false },
    });

    // THEN
    const manifests = synth(chart);
    validateAgainstKubernetesSchemas(manifests);
    expect(manifests.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Ingress', 'Service', 'Service']);
    const volumes = podSpec(manifests).volumes;
    expect(volumes.find((v: any) => v.name === 'data').persistentVolumeClaim.claimName).toBe('shared-images');
    expect(volumes.find((v: any) => v.name === 'reader-htpasswd').secret).toEqual({ secretName: 'my-users', items: [{ key: 'readers', path: 'htpasswd' }] });
    expect(volumes.find((v: any) => v.name === 'writer-htpasswd').secret).toEqual({ secretName: 'ci-users', items: [{ key: 'writers', path: 'htpasswd' }] });
    const ingress = findOne(manifests, 'Ingress', 'images');
    expect(ingress.metadata.annotations).toEqual({ 'traefik.ingress.kubernetes.io/router.tls': 'true' });
    expect(ingress.spec.tls[0].secretName).toBe('my-tls');
    for (const key of ['reader.yml', 'writer.yml']) {
      const config = parse(findOne(manifests, 'ConfigMap', 'images-config').data[key]);
      expect(config.http.tls.minimumtls).toBe('tls1.3');
      expect(config.storage.delete.enabled).toBe(false);
    }
  });

  test('deleteEnabled turns deletes on in the writer only, and turns off the reader\'s per-process cache that would serve deleted blobs', () => {
    const manifests = synth(registryChart({ config: { deleteEnabled: true } }).chart);
    const data = findOne(manifests, 'ConfigMap').data;
    const reader = parse(data['reader.yml']);
    const writer = parse(data['writer.yml']);
    expect(writer.storage.delete).toEqual({ enabled: true });
    expect(writer.storage.cache).toEqual({ blobdescriptor: 'inmemory' });
    expect(reader.storage.delete).toEqual({ enabled: false });
    expect(reader.storage.cache).toBeUndefined();
    expect(reader.storage.maintenance.readonly).toEqual({ enabled: true });
  });

  test('the certificate covers the host, the pull Service\'s and the push Service\'s names', () => {
    const manifests = synth(registryChart({ certificate: RegistryCertificate.fromCertManager() }).chart);
    expect(findOne(manifests, 'Certificate', 'registry-tls').spec.dnsNames).toEqual([
      host, 'registry.registry.svc', 'registry.registry.svc.cluster.local', 'registry-push.registry.svc', 'registry-push.registry.svc.cluster.local',
    ]);
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
    // Only the writer takes uploads, whose state the secret signs.
    expect(deployment.spec.template.spec.containers[1].env).toEqual([
      { name: 'REGISTRY_HTTP_SECRET', valueFrom: { secretKeyRef: { key: 'http-secret', name: 'registry-http-secret' } } },
    ]);
    expect(deployment.spec.template.spec.containers[0].env).toBeUndefined();
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
    for (const container of statefulSet.spec.template.spec.containers) {
      expect(container.securityContext.capabilities).toEqual({ drop: ['ALL'] });
    }
    expect(manifests.map((m) => m.kind)).not.toContain('Ingress');
    expect(manifests).toMatchSnapshot();
  });

  test('two synths of the same input are byte-identical', () => {
    const render = () => {
      const { chart } = registryChart({ htpasswd: HtpasswdSource.fromUsers({ pushUsers: [{ username: 'ci', password: 'p'.repeat(20) }], pullUsers: [{ username: 'nodes', password: 'q'.repeat(20) }], saltSeed: 'a-secret-salt-seed-of-32-characters-or-more' }) });
      return (chart.node.root as App).synthYaml();
    };
    expect(render()).toBe(render());
  });
});

describe('PrivateRegistry push identity stays home', () => {
  test('no construct copies or references the push identity outside the registry\'s namespace', () => {
    // GIVEN generated credentials granted to consumer namespaces
    const { chart, registry } = registryChart({ htpasswd: HtpasswdSource.generated() });
    registry.grantPull('Apps', { namespaces: ['team-a', 'team-b'], serviceAccounts: ['default'] });

    // WHEN
    const manifests = synth(chart);

    // THEN the copy Job copies the pull Secret, and nothing outside the registry's namespace
    // names the push Secret, the push user or the htpasswd Secret
    const copyJob = manifests.find((m) => m.kind === 'Job' && m.spec.template.spec.containers[0].env.some((e: any) => e.name === 'SOURCE_SECRET'))!;
    const env = Object.fromEntries(copyJob.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
    expect(env.SOURCE_SECRET).toBe('registry-pull');
    const outside = manifests.filter((m) => m.metadata.namespace !== undefined && m.metadata.namespace !== 'registry');
    expect(outside.map((m) => `${m.kind}/${m.metadata.namespace}`).sort()).toEqual([
      'Role/team-a', 'Role/team-b', 'RoleBinding/team-a', 'RoleBinding/team-b',
    ]);
    expect(JSON.stringify(outside)).not.toMatch(/registry-push|htpasswd/);
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
    ['an htpasswd key is invalid', () => HtpasswdSource.fromSecretName('users', { pullKey: 'a/b' }), `'htpasswd pullKey' must be a Secret data key (letters, digits, "-", "_" and "."), got "a/b"`],
    ['the pull and push files are the same key of the same Secret (the pull identity could write)', () => HtpasswdSource.fromSecretName('users', { pullKey: 'htpasswd', pushKey: 'htpasswd' }),
      `'htpasswd pullKey' must differ from 'pushKey' when both files are in the Secret "users": the read-only path would authenticate the push users and the writer the pull users, got "htpasswd"`],
    ['a pull user is also a push user (the pull identity could write)', () => HtpasswdSource.fromUsers({ pushUsers: [{ username: 'ci', password: 'p'.repeat(20) }], pullUsers: [{ username: 'ci', password: 'q'.repeat(20) }], saltSeed: 'a-secret-salt-seed-of-32-characters-or-more' }),
      `'htpasswd pullUsers[0].username' must not also be a push user: the pull identity would be able to write, got "ci"`],
    ['there is no push user', () => HtpasswdSource.fromUsers({ pushUsers: [], pullUsers: [{ username: 'nodes', password: 'q'.repeat(20) }], saltSeed: 'a-secret-salt-seed-of-32-characters-or-more' }), `'htpasswd pushUsers' must list at least one user, got []`],
    ['there is no pull user', () => HtpasswdSource.fromUsers({ pushUsers: [{ username: 'ci', password: 'p'.repeat(20) }], pullUsers: [], saltSeed: 'a-secret-salt-seed-of-32-characters-or-more' }), `'htpasswd pullUsers' must list at least one user, got []`],
    ['grantPull() is given the push identity\'s Secret', () => registryChart({ htpasswd: HtpasswdSource.generated() }).registry.grantPull('Apps', { namespaces: ['team-a'], credentials: PullCredentials.fromSecretName('registry-push') }),
      `'credentials' must name the pull identity's Secret, not the push identity's or an htpasswd Secret: grantPull() copies it into every listed namespace, got "registry-push"`],
    ['grantPull() is given the htpasswd Secret', () => registryChart().registry.grantPull('Apps', { namespaces: ['team-a'], credentials: PullCredentials.fromSecretName('registry-htpasswd') }),
      `'credentials' must name the pull identity's Secret, not the push identity's or an htpasswd Secret: grantPull() copies it into every listed namespace, got "registry-htpasswd"`],
    ['a certificate Secret name is invalid', () => RegistryCertificate.fromSecretName('TLS'), `'certificate secretName' must be a Kubernetes object name`],
    ['a registry config role is not a RegistryRole', () => registryConfig('both' as RegistryRole), `'role' must be one of "reader", "writer", got "both"`],
    ['an image repository is invalid', () => registryChart().registry.imageReference('Team/App', `sha256:${'a'.repeat(64)}`), `'repository' must be a lowercase repository path such as "team/app", got "Team/App"`],
    ['an image digest is invalid', () => registryChart().registry.imageReference('team/app', 'sha256:abc'), `'digest' must be "sha256:" followed by 64 lowercase hex characters, got "sha256:abc"`],
  ])('fails if %s', (_, build, message) => {
    expect(build).toThrow(message);
  });
});
