import { spawnSync } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';

// The compiled app, exactly as `cdk8s synth` runs it (`npm test` compiles first).
const main = join(__dirname, '..', '..', 'lib', 'src', 'main.js');

function runApp(env: Record<string, string>) {
  const outdir = mkdtempSync(join(tmpdir(), 'main-'));
  const result = spawnSync(process.execPath, [main], { env: { PATH: process.env.PATH, CDK8S_OUTDIR: outdir, ...env }, encoding: 'utf-8' });
  const files = readdirSync(outdir);
  const output = files.map((file) => readFileSync(join(outdir, file), 'utf-8'));
  rmSync(outdir, { recursive: true, force: true });
  return { ...result, files, output };
}

describe('the default app', () => {
  test('writes one YAML file for registry.mycorp.local in namespace registry, without secrets', () => {
    // WHEN
    const { status, files, output, stderr } = runApp({});

    // THEN
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(files).toEqual(['trusted-registry.k8s.yaml']);
    const objects = parseAllDocuments(output[0]).map((doc) => doc.toJS());
    expect(objects.find((o) => o.kind === 'Ingress').spec.rules[0].host).toBe('registry.mycorp.local');
    expect(objects.filter((o) => o.metadata.namespace).every((o) => o.metadata.namespace === 'registry')).toBe(true);
    expect(objects.map((o) => o.kind)).not.toContain('Secret');
    expect(output[0]).not.toMatch(/PRIVATE KEY|password/i);
  });

  test('two runs write byte-identical output', () => {
    expect(runApp({}).output).toEqual(runApp({}).output);
  });

  test('reads its settings from the environment', () => {
    const { status, output } = runApp({ TRUSTED_REGISTRY_HOST: 'registry.example.com', TRUSTED_REGISTRY_POLICY_MODE: 'audit' });
    expect(status).toBe(0);
    expect(output[0]).toContain('host: registry.example.com');
    expect(output[0]).toContain('- Warn');
  });

  test('fails if a setting is invalid, with one line naming it and no stack trace', () => {
    // WHEN
    const { status, stderr, files } = runApp({ TRUSTED_REGISTRY_HOST: 'https://reg.io/' });

    // THEN
    expect(status).toBe(1);
    expect(stderr).toBe(`error: 'TRUSTED_REGISTRY_HOST' must be a lowercase DNS name with at least one dot, without scheme, port or path (e.g. "registry.example.com"), got "https://reg.io/"\n`);
    expect(files).toEqual([]);
  });
});
