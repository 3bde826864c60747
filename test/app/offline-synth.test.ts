import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

// `npm run synth` must work where private registries live: in clusters without internet access.
const root = join(__dirname, '..', '..');
const denyNetwork = join(root, 'test', 'util', 'deny-network.js');

/** Runs `command` with every network call of its Node processes refused and recorded. */
function runOffline(command: string, args: string[], env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'offline-'));
  const log = join(dir, 'network.log');
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, {
    cwd: root,
    encoding: 'utf-8',
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      // As on an air-gapped machine: a proxy nothing answers on, and no route anywhere else.
      HTTP_PROXY: 'http://127.0.0.1:9',
      HTTPS_PROXY: 'http://127.0.0.1:9',
      http_proxy: 'http://127.0.0.1:9',
      https_proxy: 'http://127.0.0.1:9',
      NODE_OPTIONS: `--require ${denyNetwork}`,
      DENY_NETWORK_LOG: log,
      ...env,
    },
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  let networkCalls: string[] = [];
  try {
    networkCalls = readFileSync(log, 'utf-8').split('\n').filter(Boolean);
  } catch {
    // No call was recorded.
  }
  rmSync(dir, { recursive: true, force: true });
  return { ...result, output: `${result.stdout}${result.stderr}`, seconds, networkCalls };
}

describe('offline synth', () => {
  beforeAll(() => {
    // A stale lib/ would make `npm run synth` compile first, which is slow but not a network call.
    const stale = spawnSync(process.execPath, [join(root, 'scripts', 'lib-is-stale.js')]);
    if (stale.status === 0) {
      throw new Error('lib/ is older than src/: run `npm run compile` first (`npm test` does)');
    }
  });

  test('npm run synth writes the chart without any network call, in seconds and without a stack trace', () => {
    // WHEN
    const { status, output, seconds, networkCalls } = runOffline('npm', ['run', 'synth']);

    // THEN
    expect(output).not.toMatch(/^\s+at /m);
    expect(status).toBe(0);
    expect(networkCalls).toEqual([]);
    // Generous for a loaded CI machine; the upgrade check alone waited about 97 s offline.
    expect(seconds).toBeLessThan(30);
    expect(readFileSync(join(root, 'dist', 'trusted-registry.k8s.yaml'), 'utf-8')).toContain('kind: ValidatingAdmissionPolicy\n');
  });

  // The compile step (jsii) is skipped above because lib/ is fresh; running it again here would
  // double `npm test`'s longest step, so this checks the one network call jsii makes, through the
  // environment the compile task sets. bench/fresh-clone.mjs runs the whole path offline.
  test.each([
    ['with the compile task\'s environment, makes no network call', true],
    ['without it, is seen by the network guard', false],
  ])('jsii\'s release-support check, %s', (_name, silenced) => {
    // GIVEN
    const tasks = JSON.parse(readFileSync(join(root, '.projen', 'tasks.json'), 'utf-8')).tasks;
    const env: Record<string, string> = silenced ? tasks.compile.env : {};
    const support = join(root, 'node_modules', 'jsii', 'lib', 'support.js');

    // WHEN
    const { status, networkCalls } = runOffline(process.execPath, ['-e', `require(${JSON.stringify(support)}).emitSupportPolicyInformation()`], env);

    // THEN
    expect(status).toBe(0);
    expect(networkCalls.length === 0).toBe(silenced);
  });

  test('the network guard sees the call the cdk8s CLI makes when its upgrade check is on', () => {
    // GIVEN the CLI as `npm run synth` ran it before, with its upgrade check
    const outdir = mkdtempSync(join(tmpdir(), 'offline-out-'));

    // WHEN
    const { networkCalls } = runOffline(join(root, 'node_modules', '.bin', 'cdk8s'), ['synth', '--output', outdir], { CDK8S_CHECK_UPGRADE: 'true' });
    rmSync(outdir, { recursive: true, force: true });

    // THEN
    expect(networkCalls.join('\n')).toContain('registry.npmjs.org');
  });
});
