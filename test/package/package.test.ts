import { execFileSync } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join, normalize } from 'path';

// What `npm publish` would ship, from the compiled tree (`npm test` compiles first).
const root = join(__dirname, '..', '..');

interface PackedFile { readonly path: string; readonly size: number }
interface Pack { readonly files: PackedFile[]; readonly unpackedSize: number; readonly bundled: string[] }

let pack: Pack;
beforeAll(() => {
  const cache = mkdtempSync(join(tmpdir(), 'npm-cache-'));
  try {
    const output = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      encoding: 'utf-8',
      env: { ...process.env, npm_config_cache: cache, npm_config_update_notifier: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    pack = JSON.parse(output)[0];
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

describe('the npm package', () => {
  test('holds the compiled library, its types, the jsii assembly and the docs, and nothing of the repository', () => {
    const paths = pack.files.map((file) => file.path);
    for (const needed of ['package.json', 'README.md', 'LICENSE', 'API.md', 'CHANGELOG.md', '.jsii', 'lib/src/index.js', 'lib/src/index.d.ts', 'lib/imports/k8s.js']) {
      expect(paths).toContain(needed);
    }
    const own = paths.filter((path) => !path.startsWith('node_modules/'));
    expect(own.filter((path) => !/^(lib\/.*\.(js|d\.ts)|lib\/src\/bundled\/THIRD-PARTY-LICENSES\.txt|\.jsii|package\.json|README\.md|LICENSE|API\.md|CHANGELOG\.md)$/.test(path))).toEqual([]);
    // The default app is the repository's (its settings, app-config, ship for `trusted-registry
    // preflight`), and generated types appear in no public signature.
    expect(paths).toContain('lib/src/app-config.js');
    expect(own.filter((path) => /^lib\/src\/main\./.test(path) || /^lib\/imports\/.*\.d\.ts$/.test(path))).toEqual([]);
    // The third-party code it runs is bundled into lib/src/bundled/, not shipped as whole packages.
    expect(own).toEqual(paths);
    expect(pack.bundled).toEqual([]);
  });

  test('bundles its third-party code with their licenses, and each bundle exports what its source module does', () => {
    const notices = readFileSync(join(root, 'lib', 'src', 'bundled', 'THIRD-PARTY-LICENSES.txt'), 'utf-8');
    for (const name of ['bcryptjs', 'node-forge', 'yaml', '@bufbuild/cel', '@bufbuild/protobuf', '@bufbuild/re2']) {
      const { version } = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf-8'));
      expect(notices).toContain(`${name} ${version} (`);
    }
    for (const module of ['bcryptjs', 'cel', 'node-forge', 'yaml']) {
      const bundle = join(root, 'lib', 'src', 'bundled', `${module}.js`);
      expect(readFileSync(bundle, 'utf-8')).toMatch(/^\/\/ Bundled from .* by scripts\/bundle-dependencies\.js/);
      // A bundle that still required its package would load here (it is installed) but not for consumers.
      expect(readFileSync(bundle, 'utf-8')).not.toMatch(/require\("(bcryptjs|node-forge|yaml|@bufbuild\/[a-z0-9-]+)(\/[^"]*)?"\)/);
      expect(Object.keys(require(bundle)).sort()).toEqual(Object.keys(require(join(root, 'src', 'bundled', module))).sort());
    }
  });

  test('declares only types it ships or its peers provide', () => {
    const shipped = new Set(pack.files.map((file) => file.path));
    const peers = ['cdk8s', 'cdk8s-plus-27', 'constructs'];
    const unresolved: string[] = [];
    for (const file of [...shipped].filter((path) => path.endsWith('.d.ts'))) {
      const declarations = readFileSync(join(root, file), 'utf-8');
      // import/export statements, and the import("…") types tsc writes for inferred types.
      for (const [, statement, inline] of declarations.matchAll(/^(?:import|export)\b[^'"\n]*? from ['"]([^'"]+)['"]|\bimport\(['"]([^'"]+)['"]\)/gm)) {
        const specifier = statement ?? inline;
        const resolved = specifier.startsWith('.') ? `${normalize(join(dirname(file), specifier))}.d.ts` : undefined;
        if (resolved ? !shipped.has(resolved) : !peers.includes(specifier.split('/')[0])) {
          unresolved.push(`${file}: ${specifier}`);
        }
      }
    }
    expect(unresolved).toEqual([]);
  });

  test('ships no source maps and no source: stack traces point at files it contains', () => {
    const javascript = pack.files.filter((file) => file.path.startsWith('lib/') && file.path.endsWith('.js'));
    const withMaps = javascript.filter((file) => readFileSync(join(root, file.path), 'utf-8').includes('sourceMappingURL'));
    expect(withMaps.map((file) => file.path)).toEqual([]);
  });

  test('is at most 2 MB unpacked, everything it runs included', () => {
    expect(pack.unpackedSize).toBe(pack.files.reduce((sum, file) => sum + file.size, 0));
    expect(pack.unpackedSize).toBeLessThanOrEqual(2_000_000);
  });

  test('exports only the public API from its root', () => {
    const api = Object.keys(require(join(root, 'lib', 'src', 'index.js'))).sort();
    expect(api).toEqual([
      'AdmissionPolicyApiVersion', 'CertManagerCaChain', 'CertManagerCertificate', 'CertManagerIssuerKind',
      'HtpasswdKeys', 'HtpasswdSecret', 'HtpasswdSource', 'Images', 'MirrorLock', 'NodeTrust', 'NodeTrustMode',
      'PolicyMode', 'PrivateRegistry', 'PullAccess', 'PullCredentials', 'RegistryCertificate', 'RegistryContainerNames',
      'RegistryCredentialsGenerator', 'RegistryNetworkPolicy', 'RegistryStorage', 'RegistryWorkloadKind',
      'SecretWritePolicy', 'SelfSignedRegistryCertificate', 'TlsVersion', 'TrustedImagePolicy', 'TrustedRegistryChart',
      'UniqueObjectsCheck',
    ]);
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf-8'));
    expect(Object.keys(manifest.exports).sort()).toEqual(['.', './.jsii', './package.json']);
  });

  test('declares what the ecosystem looks for', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf-8'));
    expect(manifest.version).toMatch(/^0\.[1-9][0-9]*\.[0-9]+$/);
    expect(manifest.keywords).toEqual(expect.arrayContaining(['cdk8s', 'kubernetes', 'registry', 'admission']));
    expect(manifest.repository.url).toMatch(/^https:\/\//);
    expect(manifest.homepage).toMatch(/^https:\/\//);
    expect(manifest.stability).toBe('experimental');
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(['cdk8s', 'cdk8s-plus-27', 'constructs']);
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.bundledDependencies).toBeUndefined();
    expect(manifest.bin).toEqual({ 'trusted-registry': 'lib/src/cli.js' });
    expect(readFileSync(join(root, 'CHANGELOG.md'), 'utf-8')).toContain(`## ${manifest.version}`);
  });
});

describe('the .NET package', () => {
  test('jsii-pacmak generates its C# for every public type (code only: building it needs the .NET SDK and NuGet, which CI cannot reach)', () => {
    // GIVEN
    const assembly = JSON.parse(readFileSync(join(root, '.jsii'), 'utf-8'));
    const outdir = mkdtempSync(join(tmpdir(), 'pacmak-dotnet-'));
    try {
      // WHEN
      execFileSync(join(root, 'node_modules', '.bin', 'jsii-pacmak'), ['--target', 'dotnet', '--code-only', '--outdir', outdir, '.'], {
        cwd: root,
        stdio: 'pipe',
        env: { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' },
      });

      // THEN
      const project = join(outdir, 'dotnet', 'Cdk8sTrustedRegistry');
      const sources = new Set(readdirSync(join(project, 'Cdk8sTrustedRegistry')));
      const types = Object.values(assembly.types) as Array<{ name: string }>;
      expect(types.length).toBeGreaterThan(50);
      expect(types.map((type) => `${type.name}.cs`).filter((file) => !sources.has(file))).toEqual([]);
      const csproj = readFileSync(join(project, 'Cdk8sTrustedRegistry.csproj'), 'utf-8');
      expect(csproj).toContain('<PackageId>Cdk8sTrustedRegistry</PackageId>');
      expect(csproj).toContain('<PackageReference Include="Org.Cdk8s.Plus27"');
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('API.md', () => {
  test('is what jsii-docgen generates from the compiled assembly (run `npm run docgen` after an API change)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'docgen-'));
    try {
      execFileSync(join(root, 'node_modules', '.bin', 'jsii-docgen'), ['-o', join(dir, 'API.md')], { cwd: root, stdio: 'pipe' });
      expect(readFileSync(join(dir, 'API.md'), 'utf-8')).toBe(readFileSync(join(root, 'API.md'), 'utf-8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
