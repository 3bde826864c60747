import { execFileSync } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { describeWithPrerequisites } from '../util/binaries';

const root = join(__dirname, '..', '..');
const schema = join(root, '..', 'shared', 'k8s-schemas', 'v1.30.0', '_definitions.json');
// The schema lives beside the project on this team's machines and CI, not in the package.
const missing = existsSync(schema) ? [] : [`${schema} (pass a schema path or URL to scripts/import-k8s.js)`];

describeWithPrerequisites('scripts/import-k8s.js', missing, () => {
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
