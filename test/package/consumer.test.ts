import { execFileSync, spawnSync } from 'child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';

// A new cdk8s app on cdk8s-plus-33 (what `cdk8s init` generates) installs the packed library,
// exactly as npm would unpack it, next to its peers cdk8s, constructs and cdk8s-plus-27.
const root = join(__dirname, '..', '..');
const tsc = join(root, 'node_modules', '.bin', 'tsc');
let app: string;

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
  const library = join(modules, 'cdk8s-trusted-registry');
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

  test('reaches the public API only: internals are not exported', () => {
    const result = spawnSync(process.execPath, ['-e', "require('cdk8s-trusted-registry/lib/src/validation')"], { cwd: app, encoding: 'utf-8' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });
});

