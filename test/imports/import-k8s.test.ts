import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

const root = join(__dirname, '..', '..');
// The Kubernetes 1.30.0 API schema, vendored (gzipped) so that the test needs nothing outside the repository.
const schema = join(root, 'test', 'fixtures', 'k8s-schemas', 'v1.30.0', '_definitions.json.gz');

describe('scripts/import-k8s.js', () => {
  test('regenerates imports/k8s.ts byte for byte from the Kubernetes 1.30.0 schema', () => {
    // GIVEN
    const outdir = mkdtempSync(join(tmpdir(), 'import-k8s-'));
    try {
      // WHEN
      execFileSync('node', [join(root, 'scripts', 'import-k8s.js'), schema, '1.30.0', outdir], { stdio: 'pipe' });

      // THEN
      const regenerated = readFileSync(join(outdir, 'k8s.ts'));
      expect(regenerated.equals(readFileSync(join(root, 'imports', 'k8s.ts')))).toBe(true);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
