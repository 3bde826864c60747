import { execFileSync, spawnSync } from 'child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';

// A new cdk8s app on cdk8s-plus-33 (what `cdk8s init` generates) installs the packed library,
// exactly as npm would unpack it, next to its peers cdk8s, constructs and cdk8s-plus-27.
const root = join(__dirname, '..', '..');
const tsc = join(root, 'node_modules', '.bin', 'tsc');
let app: string;
let library: string;

beforeAll(() => {
  app = mkdtempSync(join(tmpdir(), 'consumer-'));
  const cache = join(app, '.npm-cache');
  const packed = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', app], {
    cwd: root,
    encoding: 'utf-8',
    env: { ...process.env, npm_config_cache: cache, npm_config_update_notifier: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tarball = join(app, JSON.parse(packed)[0].filename);
  const modules = join(app, 'node_modules');
  library = join(modules, 'cdk8s-trusted-registry');
  mkdirSync(library, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', library, '--strip-components=1']);
  for (const peer of ['cdk8s', 'constructs', 'cdk8s-plus-27', 'cdk8s-plus-33']) {
    symlinkSync(join(root, 'node_modules', peer), join(modules, peer), 'dir');
  }
  for (const file of readdirSync(join(__dirname, 'consumer'))) {
    copyFileSync(join(__dirname, 'consumer', file), join(app, file));
  }
});

afterAll(() => {
  rmSync(app, { recursive: true, force: true });
});

describe('an app on cdk8s-plus-33 using the packed library', () => {
  test('compiles with lib checks on and synthesizes the registry and a team workload pulling from it by digest', () => {
    // WHEN
    execFileSync(tsc, ['-p', 'tsconfig.json'], { cwd: app, stdio: 'pipe' });
    const outdir = join(app, 'dist');
    const run = spawnSync(process.execPath, [join(app, 'out', 'app.js')], { cwd: app, encoding: 'utf-8', env: { PATH: process.env.PATH, CDK8S_OUTDIR: outdir } });

    // THEN
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(readdirSync(outdir).sort()).toEqual(['platform.k8s.yaml', 'team-a.k8s.yaml']);
    const team = parseAllDocuments(readFileSync(join(outdir, 'team-a.k8s.yaml'), 'utf-8')).map((doc) => doc.toJS());
    const pod = team.find((m) => m.kind === 'Deployment').spec.template.spec;
    expect(pod.containers[0].image).toBe('registry.example.com/team-a/api@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
    expect(pod.imagePullSecrets).toEqual([{ name: 'registry-pull' }]);
    expect(team.find((m) => m.kind === 'NetworkPolicy')).toBeDefined();
  });

  test('fails to compile, as the README says, when a cdk8s-plus-27 object is passed to a cdk8s-plus-33 API', () => {
    const result = spawnSync(tsc, ['-p', 'tsconfig.mixed-majors.json'], { cwd: app, encoding: 'utf-8' });
    expect(result.status).not.toBe(0);
    expect(result.stdout).toMatch(/error TS2345: Argument of type '(import\("[^"]*cdk8s-plus-27[^"]*"\)\.)?Service' is not assignable to parameter of type '(import\("[^"]*cdk8s-plus-33[^"]*"\)\.)?Service'/);
  });

  test('writes the same htpasswd and self-signed certificate with its bundled bcryptjs and node-forge as the library built from source', () => {
    // GIVEN a registry whose Secrets come from bcrypt and node-forge, deterministic for fixed seeds
    const chartOf = (lib: any, cdk8s: any) => {
      const chart = cdk8s.Testing.chart();
      chart.namespace = 'images';
      new lib.PrivateRegistry(chart, 'Registry', {
        host: 'registry.example.com',
        htpasswd: lib.HtpasswdSource.fromUsers({
          pushUsers: [{ username: 'ci', password: 'push-password-of-24-chars' }],
          pullUsers: [{ username: 'nodes', password: 'pull-password-of-24-chars' }],
          saltSeed: 'a salt seed of at least thirty-two characters',
        }),
        certificate: lib.RegistryCertificate.selfSigned({ seed: 'a certificate seed of thirty-two or more characters', notBefore: new Date('2026-01-01T00:00:00Z') }),
      });
      return cdk8s.Testing.synth(chart);
    };
    const script = `process.stdout.write(JSON.stringify((${chartOf.toString()})(require('cdk8s-trusted-registry'), require('cdk8s'))))`;

    // WHEN
    const packed = spawnSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf-8', env: { PATH: process.env.PATH } });

    // THEN
    // The one warning selfSigned() always gives, and nothing else (a failed require would be here).
    expect(packed.stderr).toMatch(/^WARNING: test\/Registry: [^\n]*self-signed proof-of-concept certificate[^\n]*\n$/);
    expect(packed.status).toBe(0);
    const fromPackage = JSON.parse(packed.stdout);
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const fromSource = chartOf(require('../../src'), require('cdk8s'));
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/self-signed proof-of-concept certificate/));
    warn.mockRestore();
    expect(fromPackage).toEqual(fromSource);
    // What was compared holds bcrypt hashes and a certificate and key made by node-forge.
    const secrets = JSON.stringify(fromSource.filter((m: any) => m.kind === 'Secret'));
    expect(secrets).toMatch(/ci:\$2y\$04\$/);
    expect(secrets).toMatch(/nodes:\$2y\$04\$/);
    expect(secrets).toContain('-----BEGIN CERTIFICATE-----');
    expect(secrets).toContain('-----BEGIN PRIVATE KEY-----');
  });

  test('reaches the public API only: internals are not exported', () => {
    const result = spawnSync(process.execPath, ['-e', "require('cdk8s-trusted-registry/lib/src/validation')"], { cwd: app, encoding: 'utf-8' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });
});


describe('the `trusted-registry` command of the packed library', () => {
  const mirrored = `registry.mycorp.local/mirror/docker.io/library/nginx@sha256:${'5'.repeat(64)}`;
  const deployment = (image: string) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'team-a' },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } } },
  });
  // Runs the bin as npm links it (package.json `bin`), with only the package, its bundled
  // dependencies and the app's peers to load from.
  const run = (...args: string[]) => {
    const manifest = JSON.parse(readFileSync(join(library, 'package.json'), 'utf-8'));
    return spawnSync(process.execPath, [join(library, manifest.bin['trusted-registry']), ...args], { cwd: app, encoding: 'utf-8', env: { PATH: process.env.PATH } });
  };

  test('is a node script', () => {
    const manifest = JSON.parse(readFileSync(join(library, 'package.json'), 'utf-8'));
    expect(Object.keys(manifest.bin)).toEqual(['trusted-registry']);
    expect(readFileSync(join(library, manifest.bin['trusted-registry']), 'utf-8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });

  test('preflight evaluates the default app\'s policy with the bundled CEL engine and names what to mirror', () => {
    // GIVEN a cluster dump with a workload on an unmirrored image
    writeFileSync(join(app, 'dump.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [deployment('nginx:1.27')] }));

    // WHEN
    const result = run('preflight', '--json', 'dump.json');

    // THEN
    expect(result.stderr).toBe('');
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.refused.map((r: any) => [r.namespace, r.workload.kind, r.workload.name])).toEqual([['team-a', 'Deployment', 'web']]);
    expect(report.imagesToMirror).toEqual(['nginx:1.27']);
  });

  test('rewrite replaces the image by its mirror from a lock file, and preflight then refuses nothing', () => {
    // GIVEN
    writeFileSync(join(app, 'images.lock.json'), JSON.stringify({ version: 1, destination: 'registry.mycorp.local/mirror', images: { 'nginx:1.27': mirrored } }));
    writeFileSync(join(app, 'web.yaml'), `# the team's manifest\n${JSON.stringify(deployment('nginx:1.27'))}\n`);

    // WHEN
    const rewritten = run('rewrite', '--lock', 'images.lock.json', 'web.yaml');
    writeFileSync(join(app, 'dump-mirrored.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [deployment(mirrored)] }));
    const preflight = run('preflight', 'dump-mirrored.json');

    // THEN
    expect(rewritten.stderr).toBe('');
    expect(rewritten.status).toBe(0);
    const images = parseAllDocuments(rewritten.stdout).map((doc) => doc.toJS().spec.template.spec.containers[0].image);
    expect(images).toEqual([mirrored]);
    expect(preflight.stderr).toBe('');
    expect(preflight.status).toBe(0);
  });
});
