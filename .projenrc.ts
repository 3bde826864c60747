import { javascript, typescript } from 'projen';

const project = new typescript.TypeScriptProject({
  name: 'cdk8s-trusted-registry',
  description: 'cdk8s constructs for an in-cluster private registry and an admission policy that admits only images pinned by digest from it.',
  defaultReleaseBranch: 'main',
  projenrcTs: true,
  packageManager: javascript.NodePackageManager.NPM,
  minNodeVersion: '20.0.0',
  typescriptVersion: '~5.6.0',
  license: 'Apache-2.0',
  copyrightOwner: 'The cdk8s-trusted-registry authors',
  github: false,
  release: false,
  sampleCode: false,
  eslint: false,
  buildWorkflow: false,
  srcdir: 'src',
  testdir: 'test',
  libdir: 'lib',
  peerDeps: ['cdk8s@^2.70.0', 'constructs@^10.4.0'],
  // node-forge: the opt-in self-signed certificate, built synchronously (constructs cannot await).
  // @bufbuild/cel (with its RE2 engine, @bufbuild/re2) and yaml: the shipped `trusted-registry preflight` command evaluates the
  // synthesized policy (YAML) with a real CEL engine.
  deps: ['cdk8s-plus-27@^2.9.5', 'bcryptjs@^3.0.2', 'node-forge@^1.3.1', '@bufbuild/cel@^0.6.1', '@bufbuild/re2@^0.6.1', 'yaml@^2.6.0'],
  bin: { 'trusted-registry': 'lib/src/cli.js' },
  devDeps: [
    'cdk8s-cli@^2.200.0',
    'kubernetes-models@^4.5.1',
    '@marcbachmann/cel-js@^8.0.0',
    '@types/node-forge@^1.3.11',
    'ajv@^8.17.1',
    'smol-toml@^1.3.0',
  ],
  jestOptions: {
    // Jest 30 resolves through unrs-resolver, whose per-platform optional packages make `npm ci`
    // fail wherever the registry serves only some platforms; Jest 29 has no such dependency.
    jestVersion: '^29',
    // Snapshots change only through `npm run test:update`, never as a side effect of `npm test`.
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testTimeout: 120_000,
      collectCoverage: false,
      // The real Kubernetes control planes of test/kube start once per run, before any test file
      // (and not at all when the run has no test/kube file or the binaries are not built).
      globalSetup: '<rootDir>/test/kube/global-setup.ts',
      globalTeardown: '<rootDir>/test/kube/global-teardown.ts',
    },
  },
  tsconfig: {
    compilerOptions: {
      rootDir: '.',
      skipLibCheck: true,
    },
    include: ['imports/**/*.ts'],
  },
  tsconfigDev: {
    compilerOptions: { skipLibCheck: true },
    include: ['../src/**/*.ts', '../imports/**/*.ts', '../bench/**/*.ts'],
  },
  gitignore: ['/node_modules', '/dist/', '/cdk8s.out/', '/bench/out/'],
});

// Type errors anywhere (src, imports, tests) fail `npm test`, and lib/ is fresh for `cdk8s synth`.
project.testTask.prependSpawn(project.compileTask);

project.package.addField('main', 'lib/src/index.js');
project.package.addField('types', 'lib/src/index.d.ts');

project.addTask('import:k8s', {
  description: 'Regenerate imports/k8s.ts from a Kubernetes API schema (path or URL; default: ../shared/k8s-schemas/v1.30.0/_definitions.json)',
  exec: 'node scripts/import-k8s.js',
  receiveArgs: true,
});

project.addTask('import:cert-manager', {
  description: 'Regenerate imports/cert-manager.io.ts and test/fixtures/crds/cert-manager/ from cert-manager CRDs (directory; default: ../shared/crds/cert-manager)',
  exec: 'node scripts/import-cert-manager.js',
  receiveArgs: true,
});

// `cdk8s synth` runs the compiled app (see cdk8s.yaml), so compile first.
project.addTask('synth', {
  description: 'Compile and synthesize the default chart to dist/',
  steps: [{ spawn: 'compile' }, { exec: 'cdk8s synth' }],
});

// Benchmarks measure, they do not gate: see bench/README.md. The smoke run finishes in seconds.
project.addTask('bench', {
  description: 'Run every benchmark and print the table of figures (minutes)',
  steps: [{ spawn: 'compile' }, { exec: 'node bench/run.mjs', receiveArgs: true }],
});
project.addTask('bench:smoke', {
  description: 'Run the benchmarks with few runs and small sizes (seconds)',
  steps: [{ spawn: 'compile' }, { exec: 'node bench/run.mjs --smoke', receiveArgs: true }],
});

project.synth();
