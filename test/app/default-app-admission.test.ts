import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';
import { CORPUS } from '../policy/admission-corpus';
import { AdmissionSimulator } from '../policy/admission-harness';

// The admission corpus against the YAML file the default app writes to disk (the bytes a GitOps
// repository would hold), not against objects built in the test.
function defaultAppManifests(): unknown[] {
  const outdir = mkdtempSync(join(tmpdir(), 'default-app-'));
  try {
    const result = spawnSync(process.execPath, [join(__dirname, '..', '..', 'lib', 'src', 'main.js')], {
      env: { PATH: process.env.PATH, CDK8S_OUTDIR: outdir }, encoding: 'utf-8',
    });
    if (result.status !== 0) throw new Error(result.stderr);
    return parseAllDocuments(readFileSync(join(outdir, 'trusted-registry.k8s.yaml'), 'utf-8')).map((doc) => doc.toJS());
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const simulator = new AdmissionSimulator(defaultAppManifests());
afterAll(() => simulator.close());

// The corpus also trusts mirror.mycorp.local/team-a/; the default app trusts only its registry.
const usesMirror = (request: unknown) => JSON.stringify(request).includes('mirror.mycorp.local');

describe.each(CORPUS.map((c) => [c.name, c] as const))('default app: %s', (_name, admissionCase) => {
  test(admissionCase.why, () => {
    // WHEN
    const result = simulator.review(admissionCase.request);

    // THEN
    const expectAdmit = admissionCase.decision === 'admit' && !usesMirror(admissionCase.request);
    expect(result.allowed).toBe(expectAdmit);
  });
});
