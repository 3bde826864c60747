import { Testing } from 'cdk8s';
import { PolicyMode, TrustedRegistryChart } from '../../src';
import { APP_SETTINGS, chartPropsFromEnv } from '../../src/app-config';
import { findOne, synth } from '../util/manifests';

describe('chartPropsFromEnv', () => {
  test('no variables keep every chart default', () => {
    // WHEN
    const props = chartPropsFromEnv({});

    // THEN
    expect(props.host).toBeUndefined();
    expect(props.namespace).toBeUndefined();
    expect(props.exemptNamespaces).toBeUndefined();
    expect(props.policyMode).toBeUndefined();
    expect(props.registry?.ingressClassName).toBeUndefined();
  });

  test('blank variables count as unset', () => {
    expect(chartPropsFromEnv({ [APP_SETTINGS.host]: '  ', [APP_SETTINGS.policyMode]: '' }).host).toBeUndefined();
  });

  test('every variable reaches the chart props', () => {
    // WHEN
    const props = chartPropsFromEnv({
      [APP_SETTINGS.host]: 'registry.example.com',
      [APP_SETTINGS.namespace]: 'images',
      [APP_SETTINGS.storageSize]: '200Gi',
      [APP_SETTINGS.storageClass]: 'fast-ssd',
      [APP_SETTINGS.ingressClass]: 'traefik',
      [APP_SETTINGS.exemptNamespaces]: 'kube-system, monitoring,cert-manager',
      [APP_SETTINGS.externallyManagedNamespaces]: 'cert-manager',
      [APP_SETTINGS.policyMode]: 'audit',
    });

    // THEN
    expect(props.host).toBe('registry.example.com');
    expect(props.namespace).toBe('images');
    expect(props.exemptNamespaces).toEqual(['kube-system', 'monitoring', 'cert-manager']);
    expect(props.externallyManagedNamespaces).toEqual(['cert-manager']);
    expect(props.policyMode).toBe(PolicyMode.AUDIT);
    expect(props.registry?.ingressClassName).toBe('traefik');
    const claim = findOne(synth(new TrustedRegistryChart(Testing.app(), 'chart', props)), 'PersistentVolumeClaim');
    expect(claim.spec.resources.requests.storage).toBe('200Gi');
    expect(claim.spec.storageClassName).toBe('fast-ssd');
  });

  test('generated credentials and pull namespaces add the generator and the pull grant', () => {
    // WHEN
    const props = chartPropsFromEnv({ [APP_SETTINGS.credentials]: 'generated', [APP_SETTINGS.pullNamespaces]: 'team-a,team-b' });

    // THEN
    const manifests = synth(new TrustedRegistryChart(Testing.app(), 'chart', props));
    expect(manifests.filter((m) => m.kind === 'Job')).toHaveLength(2);
    const roleBindings = manifests.filter((m) => m.kind === 'RoleBinding').map((m) => m.metadata.namespace);
    expect(roleBindings).toEqual(expect.arrayContaining(['team-a', 'team-b']));
    expect(manifests.map((m) => m.kind)).not.toContain('Secret');
  });

  test('existing credentials keep the hand-made htpasswd Secret', () => {
    const manifests = synth(new TrustedRegistryChart(Testing.app(), 'chart', chartPropsFromEnv({ [APP_SETTINGS.credentials]: 'existing' })));
    expect(manifests.map((m) => m.kind)).not.toContain('Job');
  });

  test.each([
    [APP_SETTINGS.host, 'https://reg.io/', `'TRUSTED_REGISTRY_HOST' must be a lowercase DNS name with at least one dot, without scheme, port or path (e.g. "registry.example.com"), got "https://reg.io/"`],
    [APP_SETTINGS.namespace, 'Registry', `'TRUSTED_REGISTRY_NAMESPACE' must be a Kubernetes namespace name (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit), got "Registry"`],
    [APP_SETTINGS.storageSize, '10GB', `'TRUSTED_REGISTRY_STORAGE_SIZE' must be a whole number of Mi, Gi or Ti (e.g. "20Gi"), got "10GB"`],
    [APP_SETTINGS.storageSize, '0Gi', `'TRUSTED_REGISTRY_STORAGE_SIZE' must be a whole number of Mi, Gi or Ti (e.g. "20Gi"), got "0Gi"`],
    [APP_SETTINGS.storageClass, 'Fast SSD', `'TRUSTED_REGISTRY_STORAGE_CLASS' must be a Kubernetes object name (lowercase DNS subdomain: letters, digits, "-" and ".", at most 253 characters), got "Fast SSD"`],
    [APP_SETTINGS.ingressClass, 'nginx/public', `'TRUSTED_REGISTRY_INGRESS_CLASS' must be a Kubernetes object name (lowercase DNS subdomain: letters, digits, "-" and ".", at most 253 characters), got "nginx/public"`],
    [APP_SETTINGS.exemptNamespaces, 'kube-system,Monitoring', `'TRUSTED_REGISTRY_EXEMPT_NAMESPACES' must be a Kubernetes namespace name (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit), got "Monitoring"`],
    [APP_SETTINGS.exemptNamespaces, 'monitoring,monitoring', `'TRUSTED_REGISTRY_EXEMPT_NAMESPACES' must not list the same value twice, got "monitoring"`],
    [APP_SETTINGS.policyMode, 'deny', `'TRUSTED_REGISTRY_POLICY_MODE' must be one of "enforce", "audit", got "deny"`],
    [APP_SETTINGS.credentials, 'random', `'TRUSTED_REGISTRY_CREDENTIALS' must be one of "existing", "generated", got "random"`],
    [APP_SETTINGS.pullNamespaces, 'team-a,Team-B', `'TRUSTED_REGISTRY_PULL_NAMESPACES' must be a Kubernetes namespace name (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit), got "Team-B"`],
    [APP_SETTINGS.namespace, 'kube-system', `'TRUSTED_REGISTRY_NAMESPACE' must be a namespace of its own, not one of "default", "kube-node-lease", "kube-public", "kube-system": the chart labels it to enforce the restricted Pod Security Standard and the admission policy exempts it, got "kube-system"`],
    [APP_SETTINGS.namespace, 'default', `'TRUSTED_REGISTRY_NAMESPACE' must be a namespace of its own`],
    [APP_SETTINGS.storageSize, '99999999999Gi', `'TRUSTED_REGISTRY_STORAGE_SIZE' must be a whole number of Mi, Gi or Ti (e.g. "20Gi"), got "99999999999Gi"`],
    [APP_SETTINGS.storageSize, '2000000Ti', `'TRUSTED_REGISTRY_STORAGE_SIZE' must be a whole number of MiB from 1Mi to 1Pi (e.g. Size.gibibytes(20) or Size.mebibytes(1536)), got "2000000Ti"`],
    [APP_SETTINGS.storageSize, '1e300Gi', `'TRUSTED_REGISTRY_STORAGE_SIZE' must be a whole number of Mi, Gi or Ti (e.g. "20Gi"), got "1e300Gi"`],
    [APP_SETTINGS.host, '10.0.0.5', `'TRUSTED_REGISTRY_HOST' must be a DNS name, not an IP address (an Ingress host cannot be an IP; its last label must not be numeric), got "10.0.0.5"`],
    [APP_SETTINGS.policyMode, 'constructor', `'TRUSTED_REGISTRY_POLICY_MODE' must be one of "enforce", "audit", got "constructor"`],
  ])('fails if %s is %j', (name, value, message) => {
    expect(() => chartPropsFromEnv({ [name]: value })).toThrow(message);
  });

  test('a size that is not whole GiB (1536Mi) reaches the claim exactly', () => {
    const props = chartPropsFromEnv({ [APP_SETTINGS.storageSize]: '1536Mi' });
    const claim = findOne(synth(new TrustedRegistryChart(Testing.app(), 'chart', props)), 'PersistentVolumeClaim');
    expect(claim.spec.resources.requests.storage).toBe('1536Mi');
  });
});
