import { spawnSync } from 'child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { HtpasswdKeys } from '../../src';
import { COPY_PULL_SECRET_SCRIPT, GENERATE_CREDENTIALS_SCRIPT, GENERATION_ANNOTATION, WRITE_CREDENTIALS_SCRIPT } from '../../src/access/credentials-scripts';
import { HTPASSWD_BCRYPT_COST } from '../../src/access/htpasswd';
import { httpRequest } from '../e2e/registry-client';
import { freeLoopbackPort, RegistryProcess } from '../e2e/registry-process';
import { describeWithBinaries } from '../util/binaries';
import { FakeCluster, ScriptResult, secretValue, Shell, SHELLS } from '../util/fake-cluster';

const HOST = 'registry.example.com';
const NAMESPACE = 'registry';

interface DockerConfigEntry {
  username: string;
  password: string;
  auth: string;
}

/** The generator's two containers, run one after the other as in the Job's pod. */
function runGenerator(cluster: FakeCluster, generation: number | string): { generate: ScriptResult; write: ScriptResult; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'credentials-'));
  const generate = cluster.run(GENERATE_CREDENTIALS_SCRIPT, {
    CREDENTIALS_DIR: dir,
    REGISTRY_HOST: HOST,
    PUSH_USERNAME: 'push',
    PULL_USERNAME: 'pull',
    BCRYPT_COST: String(HTPASSWD_BCRYPT_COST),
  });
  const write = cluster.run(WRITE_CREDENTIALS_SCRIPT, {
    CREDENTIALS_DIR: dir,
    NAMESPACE,
    GENERATION: String(generation),
    HTPASSWD_SECRET: 'registry-htpasswd',
    HTPASSWD_PUSH_KEY: HtpasswdKeys.PUSH,
    HTPASSWD_PULL_KEY: HtpasswdKeys.PULL,
    PUSH_SECRET: 'registry-push',
    PULL_SECRET: 'registry-pull',
  });
  return { generate, write, dir };
}

function dockerConfigEntry(cluster: FakeCluster, name: string): DockerConfigEntry {
  const secret = cluster.get(NAMESPACE, 'Secret', name);
  return JSON.parse(secretValue(secret, '.dockerconfigjson')).auths[HOST];
}

function kubectlDockerConfigJson(username: string, password: string): string {
  const result = spawnSync('kubectl', [
    'create', 'secret', 'docker-registry', 'reference',
    `--docker-server=${HOST}`, `--docker-username=${username}`, `--docker-password=${password}`,
    '--dry-run=client', '-o', 'json',
  ], { env: { ...process.env, KUBECONFIG: '/dev/null' } });
  return JSON.parse(result.stdout.toString()).data['.dockerconfigjson'];
}

function htpasswdVerifies(htpasswd: string, username: string, password: string): boolean {
  const file = join(mkdtempSync(join(tmpdir(), 'htpasswd-')), 'htpasswd');
  writeFileSync(file, htpasswd);
  return spawnSync('htpasswd', ['-vb', file, username, password]).status === 0;
}

/**
 * `docker-registry serve` on 127.0.0.1 over plain HTTP with htpasswd authentication against
 * `htpasswdPath`, the smallest setup that answers "does the registry accept these credentials".
 * TLS is covered by the e2e suite. Its files go to `dir`.
 */
async function startHtpasswdRegistry(htpasswdPath: string, dir: string): Promise<RegistryProcess> {
  const addr = `127.0.0.1:${await freeLoopbackPort()}`;
  const configPath = join(dir, 'config.yml');
  writeFileSync(configPath, [
    'version: 0.1',
    'log: { level: warn }',
    `storage: { filesystem: { rootdirectory: ${JSON.stringify(join(dir, 'data'))} } }`,
    `http: { addr: "${addr}" }`,
    `auth: { htpasswd: { realm: test, path: ${JSON.stringify(htpasswdPath)} } }`,
    '',
  ].join('\n'));
  return RegistryProcess.start({ configPath, addr, tmpDir: dir, logDir: dir });
}

/** Status of `GET /v2/` on `registry` with the credentials. */
async function v2Status(registry: RegistryProcess, username: string, password: string): Promise<number> {
  return (await httpRequest(`${registry.url}/v2/`, { credentials: { username, password } })).status;
}

/** A Secret as the API stores it, with annotations. */
function storedSecret(name: string, annotations: Record<string, string>, type: string, data: Record<string, string>) {
  return { kind: 'Secret', metadata: { name, namespace: NAMESPACE, annotations }, type, data };
}

/** The hostile generation from the review: too long for the shells' `test` arithmetic. */
const HUGE_GENERATION = '99999999999999999999';

describe.each(SHELLS)('under %s', (shell: Shell) => {
describeWithBinaries('credentials generator scripts', ['htpasswd', 'kubectl', 'docker-registry', shell], () => {
  let running: RegistryProcess | undefined;
  let registryDir: string | undefined;
  /** Starts the registry for this test; `afterEach` kills it. */
  async function startRegistry(htpasswdPath: string): Promise<RegistryProcess> {
    registryDir = mkdtempSync(join(tmpdir(), 'local-registry-'));
    running = await startHtpasswdRegistry(htpasswdPath, registryDir);
    return running;
  }
  afterEach(async () => {
    await running?.kill();
    running = undefined;
    if (registryDir) {
      rmSync(registryDir, { recursive: true, force: true });
      registryDir = undefined;
    }
  });

  test('write htpasswd and dockerconfigjson Secrets that the registry accepts, without a password in logs or arguments', async () => {
    // GIVEN
    const cluster = new FakeCluster(shell);

    // WHEN
    const { generate, write, dir } = runGenerator(cluster, 1);

    // THEN
    expect(generate).toMatchObject({ code: 0, stderr: '' });
    expect(write).toMatchObject({ code: 0, stderr: '' });
    const htpasswdSecret = cluster.get(NAMESPACE, 'Secret', 'registry-htpasswd');
    const pushSecret = cluster.get(NAMESPACE, 'Secret', 'registry-push');
    const pullSecret = cluster.get(NAMESPACE, 'Secret', 'registry-pull');
    for (const secret of [htpasswdSecret, pushSecret, pullSecret]) {
      expect(secret.metadata.annotations).toEqual({ [GENERATION_ANNOTATION]: '1' });
    }
    expect(htpasswdSecret.type).toBe('Opaque');
    expect(pushSecret.type).toBe('kubernetes.io/dockerconfigjson');
    expect(pullSecret.type).toBe('kubernetes.io/dockerconfigjson');

    const push = dockerConfigEntry(cluster, 'registry-push');
    const pull = dockerConfigEntry(cluster, 'registry-pull');
    expect(push.username).toBe('push');
    expect(pull.username).toBe('pull');
    // 24 random bytes as hex; two independent passwords.
    expect(push.password).toMatch(/^[0-9a-f]{48}$/);
    expect(pull.password).toMatch(/^[0-9a-f]{48}$/);
    expect(pull.password).not.toBe(push.password);

    // The same bytes kubectl writes for these credentials.
    expect(pullSecret.data['.dockerconfigjson']).toBe(kubectlDockerConfigJson(pull.username, pull.password));
    expect(pushSecret.data['.dockerconfigjson']).toBe(kubectlDockerConfigJson(push.username, push.password));

    // Two files: the writer's holds only the push user, the read-only path's only the pull user.
    expect(Object.keys(htpasswdSecret.data).sort()).toEqual([HtpasswdKeys.PULL, HtpasswdKeys.PUSH]);
    const pushFile = secretValue(htpasswdSecret, HtpasswdKeys.PUSH);
    const pullFile = secretValue(htpasswdSecret, HtpasswdKeys.PULL);
    expect(pushFile).toMatch(new RegExp(`^push:\\$2y\\$0${HTPASSWD_BCRYPT_COST}\\$\\S{53}\\n$`));
    expect(pullFile).toMatch(new RegExp(`^pull:\\$2y\\$0${HTPASSWD_BCRYPT_COST}\\$\\S{53}\\n$`));
    expect(htpasswdVerifies(pullFile, 'pull', pull.password)).toBe(true);
    expect(htpasswdVerifies(pushFile, 'push', push.password)).toBe(true);
    expect(htpasswdVerifies(pushFile, 'pull', pull.password)).toBe(false);
    expect(htpasswdVerifies(pullFile, 'pull', push.password)).toBe(false);

    const everythingVisible = JSON.stringify([generate, write, cluster.takeCalls()]);
    expect(everythingVisible).not.toContain(push.password);
    expect(everythingVisible).not.toContain(pull.password);
    // The write script removes its intermediate files; only the generated ones remain.
    expect(readdirSync(dir).sort()).toEqual(['pull.dockerconfigjson', 'pull.htpasswd', 'push.dockerconfigjson', 'push.htpasswd']);

    // The registry on the pull file (the read-only path) knows the pull user only.
    const registry = await startRegistry(join(dir, 'pull.htpasswd'));
    await expect(v2Status(registry, pull.username, pull.password)).resolves.toBe(200);
    await expect(v2Status(registry, push.username, push.password)).resolves.toBe(401);
    await expect(v2Status(registry, pull.username, `${pull.password}0`)).resolves.toBe(401);
    await expect(v2Status(registry, 'nobody', pull.password)).resolves.toBe(401);
  });

  test('change nothing when run again at the same generation', () => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    runGenerator(cluster, 1);
    const before = ['registry-htpasswd', 'registry-push', 'registry-pull'].map((name) => cluster.get(NAMESPACE, 'Secret', name));
    cluster.takeCalls();

    // WHEN
    const { write } = runGenerator(cluster, 1);

    // THEN
    expect(write.code).toBe(0);
    expect(write.stdout).toContain('credentials of generation 1 exist; nothing to do');
    expect(['registry-htpasswd', 'registry-push', 'registry-pull'].map((name) => cluster.get(NAMESPACE, 'Secret', name))).toEqual(before);
    const verbs = cluster.takeCalls().map((args) => args[0]);
    expect(verbs).toEqual(['get', 'get', 'get']);
  });

  test('rotate both identities together when the generation rises, and the running registry picks the new file up', async () => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    const first = runGenerator(cluster, 1);
    const oldPull = dockerConfigEntry(cluster, 'registry-pull');
    const oldPush = dockerConfigEntry(cluster, 'registry-push');
    const htpasswdFile = join(first.dir, 'pull.htpasswd');
    const registry = await startRegistry(htpasswdFile);

    // WHEN
    const { write } = runGenerator(cluster, 2);
    // What the kubelet does to the mounted Secret key.
    writeFileSync(htpasswdFile, secretValue(cluster.get(NAMESPACE, 'Secret', 'registry-htpasswd'), HtpasswdKeys.PULL));

    // THEN
    expect(write).toMatchObject({ code: 0, stderr: '' });
    expect(write.stdout).toContain('credentials of generation 2 written');
    const newPull = dockerConfigEntry(cluster, 'registry-pull');
    const newPush = dockerConfigEntry(cluster, 'registry-push');
    expect(newPull.password).not.toBe(oldPull.password);
    expect(newPush.password).not.toBe(oldPush.password);
    for (const name of ['registry-htpasswd', 'registry-push', 'registry-pull']) {
      expect(cluster.get(NAMESPACE, 'Secret', name).metadata.annotations[GENERATION_ANNOTATION]).toBe('2');
    }
    // distribution reloads htpasswd when the file changes: no restart needed.
    await expect(v2Status(registry, 'pull', newPull.password)).resolves.toBe(200);
    await expect(v2Status(registry, 'pull', oldPull.password)).resolves.toBe(401);
    // The push file rotated in the same write.
    const pushFile = secretValue(cluster.get(NAMESPACE, 'Secret', 'registry-htpasswd'), HtpasswdKeys.PUSH);
    expect(htpasswdVerifies(pushFile, 'push', newPush.password)).toBe(true);
    expect(htpasswdVerifies(pushFile, 'push', oldPush.password)).toBe(false);
  });

  test('rewrite all three Secrets when only some exist at the generation', () => {
    // GIVEN a Job that died after writing the push Secret
    const cluster = new FakeCluster(shell);
    runGenerator(cluster, 1);
    const htpasswdPath = join(cluster.stateDir, NAMESPACE, 'Secret', 'registry-htpasswd.json');
    writeFileSync(htpasswdPath, JSON.stringify({ ...cluster.get(NAMESPACE, 'Secret', 'registry-htpasswd'), metadata: { name: 'registry-htpasswd', namespace: NAMESPACE, annotations: { [GENERATION_ANNOTATION]: '0' } } }));
    const orphanPull = dockerConfigEntry(cluster, 'registry-pull');

    // WHEN
    const { write } = runGenerator(cluster, 1);

    // THEN
    expect(write.code).toBe(0);
    const pull = dockerConfigEntry(cluster, 'registry-pull');
    expect(pull.password).not.toBe(orphanPull.password);
    expect(htpasswdVerifies(secretValue(cluster.get(NAMESPACE, 'Secret', 'registry-htpasswd'), HtpasswdKeys.PULL), 'pull', pull.password)).toBe(true);
  });

  test('fails if the generation is lower than the Secrets\' (rotation values must increase)', () => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    runGenerator(cluster, 3);
    const before = cluster.get(NAMESPACE, 'Secret', 'registry-pull');

    // WHEN
    const { write } = runGenerator(cluster, 2);

    // THEN
    expect(write.code).not.toBe(0);
    expect(write.stderr).toContain(`Secret ${NAMESPACE}/registry-htpasswd is at generation 3, newer than this Job's 2: 'generation' must only increase`);
    expect(cluster.get(NAMESPACE, 'Secret', 'registry-pull')).toEqual(before);
  });

  test('fails if a Secret of the same name was made by someone else, and leaves it alone', () => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    const theirs = { kind: 'Secret', metadata: { name: 'registry-htpasswd', namespace: NAMESPACE }, data: { htpasswd: 'eA==' } };
    cluster.put(theirs);

    // WHEN
    const { write } = runGenerator(cluster, 1);

    // THEN
    expect(write.code).not.toBe(0);
    expect(write.stderr).toContain(`Secret ${NAMESPACE}/registry-htpasswd exists without a numeric ${GENERATION_ANNOTATION} annotation, so it was not written by this generator; refusing to overwrite it`);
    expect(cluster.get(NAMESPACE, 'Secret', 'registry-htpasswd')).toEqual({ apiVersion: 'v1', ...theirs });
    expect(cluster.get(NAMESPACE, 'Secret', 'registry-pull')).toBeUndefined();
  });
});

describeWithBinaries('pull Secret copy script', ['kubectl', shell], () => {
  const source = (generation: string, data: string) => ({
    kind: 'Secret',
    metadata: { name: 'registry-pull', namespace: NAMESPACE, annotations: { [GENERATION_ANNOTATION]: generation } },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': data },
  });
  const serviceAccount = (namespace: string, imagePullSecrets?: { name: string }[]) => ({
    kind: 'ServiceAccount',
    metadata: { name: 'default', namespace },
    ...(imagePullSecrets ? { imagePullSecrets } : {}),
  });
  const env = (overrides: Record<string, string> = {}) => ({
    SOURCE_NAMESPACE: NAMESPACE,
    SOURCE_SECRET: 'registry-pull',
    SOURCE_GENERATION: '1',
    SOURCE_WAIT_SECONDS: '0',
    TARGET_SECRET: 'registry-pull',
    TARGETS: 'team-a default\nteam-b default\nteam-c',
    WORK_DIR: mkdtempSync(join(tmpdir(), 'copy-work-')),
    ...overrides,
  });
  const data = kubectlDockerConfigJson('pull', 'f'.repeat(48));

  test('copies the Secret into every namespace and lists it in the ServiceAccounts, keeping their other entries', () => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    cluster.put(source('1', data));
    cluster.put(serviceAccount('team-a', [{ name: 'other' }]));
    cluster.put(serviceAccount('team-b'));

    // WHEN
    const result = cluster.run(COPY_PULL_SECRET_SCRIPT, env());

    // THEN
    expect(result).toMatchObject({ code: 0, stderr: '' });
    for (const namespace of ['team-a', 'team-b', 'team-c']) {
      const copy = cluster.get(namespace, 'Secret', 'registry-pull');
      expect(copy.type).toBe('kubernetes.io/dockerconfigjson');
      expect(copy.data).toEqual({ '.dockerconfigjson': data });
    }
    expect(cluster.get('team-a', 'ServiceAccount', 'default').imagePullSecrets).toEqual([{ name: 'other' }, { name: 'registry-pull' }]);
    expect(cluster.get('team-b', 'ServiceAccount', 'default').imagePullSecrets).toEqual([{ name: 'registry-pull' }]);
    expect(JSON.stringify([result, cluster.takeCalls()])).not.toContain(data);
  });

  test('changes nothing when run again', () => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    cluster.put(source('1', data));
    cluster.put(serviceAccount('team-a'));
    cluster.put(serviceAccount('team-b'));
    cluster.run(COPY_PULL_SECRET_SCRIPT, env());
    cluster.takeCalls();

    // WHEN
    const result = cluster.run(COPY_PULL_SECRET_SCRIPT, env());

    // THEN
    expect(result.code).toBe(0);
    expect(cluster.takeCalls().map((args) => args[0])).toEqual(['get', 'get', 'get', 'get', 'get', 'get']);
    expect(cluster.get('team-a', 'ServiceAccount', 'default').imagePullSecrets).toEqual([{ name: 'registry-pull' }]);
  });

  test('replaces the copies after a rotation', () => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    cluster.put(source('1', data));
    cluster.put(serviceAccount('team-a'));
    cluster.put(serviceAccount('team-b'));
    cluster.run(COPY_PULL_SECRET_SCRIPT, env());
    const rotated = kubectlDockerConfigJson('pull', 'e'.repeat(48));
    cluster.put(source('2', rotated));

    // WHEN
    const result = cluster.run(COPY_PULL_SECRET_SCRIPT, env({ SOURCE_GENERATION: '2' }));

    // THEN
    expect(result.code).toBe(0);
    expect(cluster.get('team-c', 'Secret', 'registry-pull').data).toEqual({ '.dockerconfigjson': rotated });
  });

  test('fails if the source is still at an older generation when the wait ends', () => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    cluster.put(source('1', data));

    // WHEN
    const result = cluster.run(COPY_PULL_SECRET_SCRIPT, env({ SOURCE_GENERATION: '2' }));

    // THEN
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`Secret ${NAMESPACE}/registry-pull with key .dockerconfigjson at generation 2 or later not found after 0 s`);
    expect(cluster.get('team-a', 'Secret', 'registry-pull')).toBeUndefined();
  });

  test('fails if a listed ServiceAccount does not exist', () => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    cluster.put(source('1', data));

    // WHEN
    const result = cluster.run(COPY_PULL_SECRET_SCRIPT, env());

    // THEN
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('serviceaccounts "default" not found');
  });
});

describeWithBinaries('credentials scripts given hostile answers from the API', ['htpasswd', 'kubectl', shell], () => {
  const dockerConfig = kubectlDockerConfigJson('pull', 'f'.repeat(48));
  const allThree = (generation: string) => [
    storedSecret('registry-htpasswd', { [GENERATION_ANNOTATION]: generation }, 'Opaque', { htpasswd: 'eA==' }),
    storedSecret('registry-push', { [GENERATION_ANNOTATION]: generation }, 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': dockerConfig }),
    storedSecret('registry-pull', { [GENERATION_ANNOTATION]: generation }, 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': dockerConfig }),
  ];
  const copyEnv = (overrides: Record<string, string> = {}) => ({
    SOURCE_NAMESPACE: NAMESPACE,
    SOURCE_SECRET: 'registry-pull',
    SOURCE_GENERATION: '1',
    SOURCE_WAIT_SECONDS: '0',
    TARGET_SECRET: 'registry-pull',
    TARGETS: 'team-a',
    WORK_DIR: mkdtempSync(join(tmpdir(), 'copy-work-')),
    ...overrides,
  });
  /** An annotation crafted so that splitting on its first ":" and pasting the rest into YAML makes a token Secret. */
  const craftedAnnotation = '1:e30=\ntype: kubernetes.io/service-account-token\nmetadata:\n  name: registry-pull\n  annotations:\n    kubernetes.io/service-account.name: admin\nx';

  test(`fails if the Secrets' generation is ${HUGE_GENERATION}, instead of reporting "nothing to do" (a rotation must never silently do nothing)`, () => {
    // GIVEN Secrets whose annotation overflows the shells' arithmetic
    const cluster = new FakeCluster(shell);
    allThree(HUGE_GENERATION).forEach((secret) => cluster.put(secret));

    // WHEN the Job of a rotation runs
    const { write } = runGenerator(cluster, 2);

    // THEN it fails loudly and writes nothing
    expect(write.code).not.toBe(0);
    expect(write.stdout).not.toContain('nothing to do');
    expect(write.stderr).toContain(`error: the ${GENERATION_ANNOTATION} annotation of Secret ${NAMESPACE}/registry-htpasswd (refusing to overwrite it) must be a generation of at most 15 digits, got 20 digits`);
    expect(cluster.takeCalls().filter((args) => args[0] !== 'get' && !args.includes('--dry-run=client') && !args.includes('--local'))).toEqual([]);
    expect(cluster.get(NAMESPACE, 'Secret', 'registry-pull').metadata.annotations[GENERATION_ANNOTATION]).toBe(HUGE_GENERATION);
  });

  test.each([
    ['a YAML-carrying annotation', craftedAnnotation],
    ['a leading zero', '01'],
    ['a sign', '-1'],
    ['a space', '1 '],
  ])('fails if a Secret\'s generation annotation holds %s, and leaves the Secrets alone', (_, annotation) => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    allThree('1').forEach((secret) => cluster.put(secret));
    cluster.put(storedSecret('registry-push', { [GENERATION_ANNOTATION]: annotation }, 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': dockerConfig }));

    // WHEN
    const { write } = runGenerator(cluster, 2);

    // THEN
    expect(write.code).not.toBe(0);
    expect(write.stderr).toContain(`error: the ${GENERATION_ANNOTATION} annotation of Secret ${NAMESPACE}/registry-push (refusing to overwrite it) must be a generation`);
    // The value is shown cut and with anything but plain characters replaced: no forged log lines.
    expect(write.stderr.trim().split('\n')).toHaveLength(1);
    expect(cluster.get(NAMESPACE, 'Secret', 'registry-pull').data).toEqual({ '.dockerconfigjson': dockerConfig });
  });

  test.each([HUGE_GENERATION, '1e3', '', '0x10'])('fails if the Job\'s own GENERATION is %j', (generation) => {
    // GIVEN
    const cluster = new FakeCluster(shell);

    // WHEN
    const { write } = runGenerator(cluster, generation);

    // THEN
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/^error: GENERATION must be a generation/);
    expect(cluster.get(NAMESPACE, 'Secret', 'registry-pull')).toBeUndefined();
  });

  test(`fails if the source's generation is ${HUGE_GENERATION}, naming it, instead of waiting for a generation that never comes`, () => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    cluster.put(storedSecret('registry-pull', { [GENERATION_ANNOTATION]: HUGE_GENERATION }, 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': dockerConfig }));

    // WHEN
    const result = cluster.run(COPY_PULL_SECRET_SCRIPT, copyEnv({ SOURCE_WAIT_SECONDS: '10' }));

    // THEN
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`error: the ${GENERATION_ANNOTATION} annotation of Secret ${NAMESPACE}/registry-pull must be a generation of at most 15 digits, got 20 digits`);
    expect(cluster.get('team-a', 'Secret', 'registry-pull')).toBeUndefined();
  });

  test('fails if the source\'s annotation carries ":" and YAML, and never writes a Secret of another type', () => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    cluster.put(storedSecret('registry-pull', { [GENERATION_ANNOTATION]: craftedAnnotation }, 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': dockerConfig }));

    // WHEN
    const result = cluster.run(COPY_PULL_SECRET_SCRIPT, copyEnv());

    // THEN
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`error: the ${GENERATION_ANNOTATION} annotation of Secret ${NAMESPACE}/registry-pull must be a generation (digits without a leading zero), got "1:e30??type:?kubernetes.io/service-account-token?metadata:`);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(cluster.get('team-a', 'Secret', 'registry-pull')).toBeUndefined();
  });

  test('copies only the source\'s data, as a dockerconfigjson Secret, when the crafted annotation is not consulted (credentials without a generation)', () => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    cluster.put(storedSecret('registry-pull', { [GENERATION_ANNOTATION]: craftedAnnotation }, 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': dockerConfig }));

    // WHEN
    const result = cluster.run(COPY_PULL_SECRET_SCRIPT, copyEnv({ SOURCE_GENERATION: '' }));

    // THEN
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const copy = cluster.get('team-a', 'Secret', 'registry-pull');
    expect(copy.type).toBe('kubernetes.io/dockerconfigjson');
    expect(copy.data).toEqual({ '.dockerconfigjson': dockerConfig });
    expect(copy.metadata.annotations).toEqual({ 'cdk8s-trusted-registry/copied-from': `${NAMESPACE}/registry-pull` });
  });

  test.each([
    ['of another type', 'kubernetes.io/service-account-token', dockerConfig, `error: Secret ${NAMESPACE}/registry-pull is not of type kubernetes.io/dockerconfigjson`],
    ['whose data is not base64', 'kubernetes.io/dockerconfigjson', `${dockerConfig}\n- x`, `error: the .dockerconfigjson of Secret ${NAMESPACE}/registry-pull is not base64`],
    ['whose data is badly padded base64', 'kubernetes.io/dockerconfigjson', 'e30', `error: the .dockerconfigjson of Secret ${NAMESPACE}/registry-pull is not base64`],
    ['whose data is too long', 'kubernetes.io/dockerconfigjson', 'A'.repeat(65540), `error: the .dockerconfigjson of Secret ${NAMESPACE}/registry-pull is not base64 of at most 65536 characters`],
  ])('fails if the source is a Secret %s, and copies nothing', (_, type, data, message) => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    cluster.put(storedSecret('registry-pull', { [GENERATION_ANNOTATION]: '1' }, type, { '.dockerconfigjson': data }));

    // WHEN
    const result = cluster.run(COPY_PULL_SECRET_SCRIPT, copyEnv());

    // THEN
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toContain(dockerConfig);
    expect(cluster.get('team-a', 'Secret', 'registry-pull')).toBeUndefined();
  });

  test('fails if the target namespace holds a Secret of that name it did not copy, and leaves it alone', () => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    cluster.put(storedSecret('registry-pull', { [GENERATION_ANNOTATION]: '1' }, 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': dockerConfig }));
    const theirs = { kind: 'Secret', metadata: { name: 'registry-pull', namespace: 'team-a' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': 'e30=' } };
    cluster.put(theirs);

    // WHEN
    const result = cluster.run(COPY_PULL_SECRET_SCRIPT, copyEnv());

    // THEN
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`error: Secret team-a/registry-pull exists but is not a kubernetes.io/dockerconfigjson Secret annotated cdk8s-trusted-registry/copied-from=${NAMESPACE}/registry-pull, so this Job did not make it; refusing to overwrite it`);
    expect(cluster.get('team-a', 'Secret', 'registry-pull')).toEqual({ apiVersion: 'v1', ...theirs });
  });

  test.each([
    ['TARGET_SECRET', { TARGET_SECRET: 'x"}]' }, 'error: TARGET_SECRET must be a Kubernetes object name'],
    ['a namespace in TARGETS', { TARGETS: 'Team_A' }, 'error: a namespace of TARGETS must be a Kubernetes object name'],
    ['SOURCE_WAIT_SECONDS', { SOURCE_WAIT_SECONDS: '5s' }, 'error: SOURCE_WAIT_SECONDS must be a generation'],
  ])('fails if %s is not what the construct writes', (_, overrides, message) => {
    // GIVEN
    const cluster = new FakeCluster(shell);
    cluster.put(storedSecret('registry-pull', { [GENERATION_ANNOTATION]: '1' }, 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': dockerConfig }));

    // WHEN
    const result = cluster.run(COPY_PULL_SECRET_SCRIPT, copyEnv(overrides));

    // THEN
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
  });
});
});
