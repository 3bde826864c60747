import { execFileSync, spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';
import { describeWithPrerequisites } from '../util/binaries';
import { isCustomResource, validateAgainstCrds } from '../util/crds';
import { Manifest, validateAgainstKubernetesSchemas } from '../util/manifests';

// The examples are apps as a user writes them (`import ... from 'cdk8s-trusted-registry'`),
// compiled with the options `cdk8s init` uses against the compiled library, and run as cdk8s runs them.
const root = join(__dirname, '..', '..');
const examples = join(root, 'examples');

/** Runs an example app (in `cwd`, where cdk8s would run it); returns its output files by name. */
function synthExample(command: string, args: string[], env: Record<string, string> = {}, cwd: string = root): Record<string, string> {
  const outdir = mkdtempSync(join(tmpdir(), 'example-'));
  try {
    const result = spawnSync(command, args, { cwd, encoding: 'utf-8', env: { ...process.env, ...env, CDK8S_OUTDIR: outdir } });
    if (result.status !== 0 || result.stderr !== '') {
      throw new Error(`${args.join(' ')} failed (${result.status}):\n${result.stderr}`);
    }
    return Object.fromEntries(readdirSync(outdir).sort().map((file) => [file, readFileSync(join(outdir, file), 'utf-8')]));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function validate(files: Record<string, string>): Manifest[] {
  const manifests = Object.values(files).flatMap((yaml) => parseAllDocuments(yaml).map((doc) => doc.toJS() as Manifest));
  validateAgainstCrds(manifests.filter(isCustomResource));
  validateAgainstKubernetesSchemas(manifests.filter((m) => !isCustomResource(m)));
  return manifests;
}

const outputs: Record<string, Record<string, string>> = {};

/**
 * Runs an example in another language and expects exactly the files, byte for byte, of its
 * TypeScript twin. The jsii runtime warns on stderr that it no longer supports this machine's Node 20.
 */
function expectSameBytesAsTypeScript(typescriptName: string, command: string, args: string[]): void {
  // GIVEN
  const typescript = outputs[typescriptName] ?? synthExample(process.execPath, [join(examples, 'typescript', 'out', `${typescriptName}.js`)]);

  // WHEN
  const files = synthExample(command, args, { JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' });

  // THEN
  expect(Object.keys(files)).toEqual(Object.keys(typescript));
  for (const name of Object.keys(files)) {
    expect(files[name]).toBe(typescript[name]);
  }
}

describe('TypeScript examples', () => {
  beforeAll(() => {
    execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(examples, 'typescript', 'tsconfig.json')], { cwd: root, stdio: 'pipe' });
  });

  test.each(['default-chart', 'platform-chart', 'team-chart'])('%s compiles, synthesizes valid objects and matches its snapshot', (name) => {
    // WHEN
    const files = synthExample(process.execPath, [join(examples, 'typescript', 'out', `${name}.js`)]);
    outputs[name] = files;

    // THEN
    const manifests = validate(files);
    expect(manifests.length).toBeGreaterThan(0);
    expect(files).toMatchSnapshot();
  });

  // The README's code: each file is one of its blocks (test/examples/readme.test.ts).
  test.each(['own-chart', 'generated-credentials', 'grant-pull', 'own-pull-credentials', 'node-trust'])('%s (README) compiles and synthesizes valid objects', (name) => {
    const manifests = validate(synthExample(process.execPath, [join(examples, 'typescript', 'out', `${name}.js`)]));
    expect(manifests.length).toBeGreaterThan(0);
  });

  test('mirror-lock (README) rewrites the image to its mirror from the lock file next to the app', () => {
    // GIVEN examples/typescript/images.lock.json, read relative to the app's directory as in a cdk8s app
    const lock = JSON.parse(readFileSync(join(examples, 'typescript', 'images.lock.json'), 'utf-8'));

    // WHEN
    const files = synthExample(process.execPath, [join(examples, 'typescript', 'out', 'mirror-lock.js')], {}, join(examples, 'typescript'));

    // THEN
    const manifests = validate(files);
    const pod = manifests.find((m) => m.kind === 'Deployment')!.spec.template.spec;
    expect(pod.containers.map((c: { image: string }) => c.image)).toEqual([lock.images['nginx:1.27']]);
    expect(lock.images['nginx:1.27']).toMatch(/^registry\.mycorp\.local\/mirror\/docker\.io\/library\/nginx@sha256:[0-9a-f]{64}$/);
  });

  test('the team chart runs its image by digest from the registry, with the copied pull Secret', () => {
    const team = parseAllDocuments(outputs['team-chart']['team-a.k8s.yaml']).map((doc) => doc.toJS());
    const pod = team.find((m) => m.kind === 'Deployment').spec.template.spec;
    expect(pod.containers[0].image).toMatch(/^registry\.example\.com\/team-a\/api@sha256:[0-9a-f]{64}$/);
    expect(pod.imagePullSecrets).toEqual([{ name: 'registry-pull' }]);
  });
});

// The Python example needs the package built by jsii-pacmak and installed, with cdk8s from PyPI,
// in a virtual environment (.ci/run makes it with scripts/python-examples-venv.sh).
const python = process.env.PYTHON_EXAMPLES_PYTHON ?? join(root, '.venv-examples', 'bin', 'python');
const missing = existsSync(python) ? [] : [`a Python with cdk8s and the packed library at ${python} (make it with \`scripts/python-examples-venv.sh\`, as .ci/run does)`];

describeWithPrerequisites('Python examples', missing, () => {
  test.each([
    ['platform_chart.py', 'platform-chart'],
    ['default_chart.py', 'default-chart'],
  ])('%s synthesizes the same bytes as %s.ts', (python_, typescriptName) => {
    expectSameBytesAsTypeScript(typescriptName, python, [join(examples, 'python', python_)]);
  });
});

// The Java and Go examples need the packages jsii-pacmak builds and the examples compiled against
// them (.ci/run makes both with scripts/java-examples.sh and scripts/go-examples.sh).
const javaClassPath = join(examples, 'java', 'target', 'classpath.txt');
const javaMissing = existsSync(javaClassPath) ? [] : [`the Java examples compiled against the packed library (make them with \`scripts/java-examples.sh\`, as .ci/run does): no ${javaClassPath}`];

describeWithPrerequisites('Java examples', javaMissing, () => {
  test.each([
    ['examples.PlatformChart', 'platform-chart'],
    ['examples.DefaultChart', 'default-chart'],
  ])('%s synthesizes the same bytes as %s.ts', (mainClass, typescriptName) => {
    const classPath = [join(examples, 'java', 'target', 'classes'), readFileSync(javaClassPath, 'utf-8').trim()].join(':');
    expectSameBytesAsTypeScript(typescriptName, 'java', ['-cp', classPath, mainClass]);
  });
});

const goBin = join(examples, 'go', 'bin');
const goMissing = existsSync(join(goBin, 'platformchart')) ? [] : [`the Go examples built against the generated modules (make them with \`scripts/go-examples.sh\`, as .ci/run does): no ${goBin}/platformchart`];

describeWithPrerequisites('Go examples', goMissing, () => {
  test.each([
    ['platformchart', 'platform-chart'],
    ['defaultchart', 'default-chart'],
  ])('%s synthesizes the same bytes as %s.ts', (program, typescriptName) => {
    expectSameBytesAsTypeScript(typescriptName, join(goBin, program), []);
  });
});
