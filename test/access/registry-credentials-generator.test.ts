import { Chart, Testing } from 'cdk8s';
import { HtpasswdSource, PrivateRegistry, RegistryCredentialsGenerator, RegistryCredentialsGeneratorProps } from '../../src';
import { GENERATE_CREDENTIALS_SCRIPT, GENERATION_ANNOTATION, MAX_GENERATION, WRITE_CREDENTIALS_SCRIPT } from '../../src/access/credentials-scripts';
import { HTPASSWD_BCRYPT_COST } from '../../src/access/htpasswd';
import { IMAGES } from '../../src/images';
import { findOne, Manifest, synth, validateAgainstKubernetesSchemas } from '../util/manifests';
import { expectRestrictedPod } from '../util/pod-security';

const HOST = 'registry.example.com';

function annotations(manifest: Manifest): Record<string, string> | undefined {
  return (manifest.metadata as { annotations?: Record<string, string> }).annotations;
}

function chart(): Chart {
  return new Chart(Testing.app(), 'test', { namespace: 'registry' });
}

function synthGenerator(props: Partial<RegistryCredentialsGeneratorProps> = {}): Manifest[] {
  const c = chart();
  new RegistryCredentialsGenerator(c, 'Credentials', { host: HOST, ...props });
  const manifests = synth(c);
  validateAgainstKubernetesSchemas(manifests);
  return manifests;
}

describe('RegistryCredentialsGenerator', () => {
  test('runs the tested scripts in a restricted Job that can write only its three Secrets', () => {
    // WHEN
    const manifests = synthGenerator();

    // THEN
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
      'ServiceAccount/registry-credentials',
      'ValidatingAdmissionPolicy/registry-credentials.registry.secret-writes.cdk8s-trusted-registry.io',
      'ValidatingAdmissionPolicyBinding/registry-credentials.registry.secret-writes.cdk8s-trusted-registry.io',
      'Role/registry-credentials',
      'RoleBinding/registry-credentials',
      expect.stringMatching(/^Job\/registry-credentials-1-[0-9a-f]{8}$/),
    ]);
    expect(manifests.filter((m) => !m.kind.startsWith('ValidatingAdmissionPolicy')).every((m) => m.metadata.namespace === 'registry')).toBe(true);
    const policy = findOne(manifests, 'ValidatingAdmissionPolicy');
    expect(policy.metadata.namespace).toBeUndefined();
    expect(policy.spec.matchConditions).toEqual([{ name: 'from-the-service-account', expression: 'request.userInfo.username == "system:serviceaccount:registry:registry-credentials"' }]);
    expect(policy.spec.matchConstraints.resourceRules[0].resources).toEqual(['secrets']);

    const job = findOne(manifests, 'Job');
    expect(annotations(job)).toEqual({ [GENERATION_ANNOTATION]: '1' });
    const pod = job.spec.template.spec;
    expectRestrictedPod(pod);
    expect(pod.serviceAccountName).toBe('registry-credentials');
    expect(pod.restartPolicy).toBe('Never');

    expect(job.spec.activeDeadlineSeconds).toBe(RegistryCredentialsGenerator.ACTIVE_DEADLINE_SECONDS);
    const [shell, generate] = pod.initContainers;
    const [write] = pod.containers;
    expect(generate.image).toBe(IMAGES.htpasswd);
    expect(write.image).toBe(IMAGES.kubectl);
    expect(generate.command).toEqual(['sh', '-c', GENERATE_CREDENTIALS_SCRIPT]);
    // registry.k8s.io/kubectl has no shell: the script runs with the static BusyBox copied in first.
    expect(shell.image).toBe(IMAGES.shell);
    expect(shell.command).toEqual(['/bin/sh', '-c', 'cp /bin/busybox /shell/busybox && /shell/busybox --install -s /shell']);
    expect(shell.volumeMounts).toEqual([{ name: 'shell', mountPath: '/shell' }]);
    expect(shell.env).toBeUndefined();
    expect(write.command).toEqual(['/shell/sh', '-c', WRITE_CREDENTIALS_SCRIPT]);
    expect(write.volumeMounts).toContainEqual({ name: 'shell', mountPath: '/shell', readOnly: true });
    expect(Object.fromEntries(generate.env.map((e: any) => [e.name, e.value]))).toEqual({
      CREDENTIALS_DIR: '/credentials',
      REGISTRY_HOST: HOST,
      PUSH_USERNAME: 'push',
      PULL_USERNAME: 'pull',
      BCRYPT_COST: String(HTPASSWD_BCRYPT_COST),
    });
    expect(Object.fromEntries(write.env.map((e: any) => [e.name, e.value]))).toEqual({
      PATH: '/shell:/usr/local/bin:/usr/bin:/bin',
      CREDENTIALS_DIR: '/credentials',
      HOME: '/tmp',
      NAMESPACE: 'registry',
      GENERATION: '1',
      HTPASSWD_SECRET: 'registry-htpasswd',
      HTPASSWD_PUSH_KEY: 'htpasswd-push',
      HTPASSWD_PULL_KEY: 'htpasswd-pull',
      PUSH_SECRET: 'registry-push',
      PULL_SECRET: 'registry-pull',
    });
    expect(pod.volumes).toContainEqual({ name: 'credentials', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
    expect(generate.volumeMounts).toEqual([{ name: 'credentials', mountPath: '/credentials' }]);
    // The API token is mounted into the kubectl container only.
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(write.volumeMounts).toContainEqual({ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true });
    expect(pod.volumes.find((v: { name: string }) => v.name === 'kube-api-access').projected.sources[0]).toEqual({ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } });

    expect(findOne(manifests, 'Role').rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['registry-htpasswd', 'registry-push', 'registry-pull'], verbs: ['get', 'update'] },
    ]);
    expect(findOne(manifests, 'RoleBinding')).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'registry-credentials' },
      subjects: [{ kind: 'ServiceAccount', name: 'registry-credentials', namespace: 'registry' }],
    });
    expect(findOne(manifests, 'ServiceAccount').automountServiceAccountToken).toBe(false);
  });

  test('synthesizes the same objects every time', () => {
    expect(synthGenerator()).toEqual(synthGenerator());
  });

  test('names a new Job for a new generation and keeps the Secret names', () => {
    // WHEN
    const first = findOne(synthGenerator({ generation: 1 }), 'Job');
    const second = findOne(synthGenerator({ generation: 2 }), 'Job');

    // THEN
    expect(second.metadata.name).toMatch(/^registry-credentials-2-[0-9a-f]{8}$/);
    expect(annotations(second)).toEqual({ [GENERATION_ANNOTATION]: '2' });
    const env = (job: Manifest) => Object.fromEntries(job.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
    expect(env(second)).toEqual({ ...env(first), GENERATION: '2' });
  });

  test('takes custom names, users and images', () => {
    // WHEN
    const generator = new RegistryCredentialsGenerator(chart(), 'Credentials', {
      host: HOST,
      name: 'images',
      htpasswdSecretName: 'users',
      pushSecretName: 'ci-push',
      pullSecretName: 'cluster-pull',
      pushUsername: 'ci',
      pullUsername: 'cluster',
      kubectlImage: `example.com/kubectl@sha256:${'a'.repeat(64)}`,
    });

    // THEN
    expect(generator.job.name).toMatch(/^images-credentials-1-[0-9a-f]{8}$/);
    expect([generator.htpasswdSecretName, generator.pushSecretName, generator.pullSecretName]).toEqual(['users', 'ci-push', 'cluster-pull']);
    expect([generator.pushUsername, generator.pullUsername]).toEqual(['ci', 'cluster']);
    expect(generator.pullSecretGeneration).toBe(1);
  });

  test.each([
    ['0', 0],
    ['a fraction', 1.5],
    ['a negative number', -2],
    ['longer than the Job\'s scripts accept (16 digits)', MAX_GENERATION + 1],
  ])('fails if the generation is %s', (_, generation) => {
    expect(() => synthGenerator({ generation }))
      .toThrow(`'generation' must be an integer from 1 to 999999999999999, got ${generation}`);
  });

  test('fails if the chart has no namespace', () => {
    expect(() => new RegistryCredentialsGenerator(Testing.chart(), 'Credentials', { host: HOST }))
      .toThrow(`'namespace' must be set on the Chart that contains a RegistryCredentialsGenerator (its Job writes Secrets there), got undefined`);
  });

  test('fails if both identities have the same user name', () => {
    expect(() => synthGenerator({ pushUsername: 'ci', pullUsername: 'ci' })).toThrow(`'user names' must not list the same value twice, got "ci"`);
  });

  test('fails if a user name could break htpasswd or JSON', () => {
    expect(() => synthGenerator({ pullUsername: 'pull"er' }))
      .toThrow(`'pullUsername' must be 1 to 64 lowercase letters, digits, "-", "." or "_", starting and ending with a letter or digit, got "pull\\"er"`);
  });

  test('fails if two Secrets would have the same name', () => {
    expect(() => synthGenerator({ pushSecretName: 'creds', pullSecretName: 'creds' })).toThrow(`'Secret names' must not list the same value twice, got "creds"`);
  });

  test('fails if an image is not pinned by digest', () => {
    expect(() => synthGenerator({ htpasswdImage: 'httpd:2.4-alpine' }))
      .toThrow(`'htpasswdImage' must be pinned by digest ("<name>@sha256:<64 lowercase hex>" or "<name>:<tag>@sha256:<64 lowercase hex>"), got "httpd:2.4-alpine"`);
  });

  test('fails if the name leaves no room for the Job name', () => {
    expect(() => synthGenerator({ name: 'x'.repeat(50) }))
      .toThrow(`'name' must be short enough for the Job name "${'x'.repeat(50)}-credentials-1-`);
  });
});

describe('HtpasswdSource.generated', () => {
  test('mounts the generated htpasswd Secret in the registry and exposes the generator', () => {
    // GIVEN
    const c = chart();

    // WHEN
    const registry = new PrivateRegistry(c, 'Registry', { host: HOST, htpasswd: HtpasswdSource.generated({ generation: 3 }) });

    // THEN
    const manifests = synth(c);
    validateAgainstKubernetesSchemas(manifests);
    expect(registry.credentials?.generation).toBe(3);
    expect(registry.credentials?.host).toBe(HOST);
    expect(registry.htpasswdSecret.name).toBe('registry-htpasswd');
    const deployment = findOne(manifests, 'Deployment', 'registry');
    expect(deployment.spec.template.spec.volumes).toContainEqual({
      name: 'reader-htpasswd',
      secret: { secretName: 'registry-htpasswd', items: [{ key: 'htpasswd-pull', path: 'htpasswd' }] },
    });
    expect(deployment.spec.template.spec.volumes).toContainEqual({
      name: 'writer-htpasswd',
      secret: { secretName: 'registry-htpasswd', items: [{ key: 'htpasswd-push', path: 'htpasswd' }] },
    });
    expect(findOne(manifests, 'Job').metadata.name).toMatch(/^registry-credentials-3-/);
    expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);
  });

  test('leaves the registry without a generator for other sources', () => {
    const registry = new PrivateRegistry(chart(), 'Registry', { host: HOST });
    expect(registry.credentials).toBeUndefined();
  });
});
