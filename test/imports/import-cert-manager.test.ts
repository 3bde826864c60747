import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

const root = join(__dirname, '..', '..');

describe('scripts/import-cert-manager.js', () => {
  test('regenerates imports/cert-manager.io.ts byte for byte from the fixture CRDs', () => {
    // GIVEN
    const outdir = mkdtempSync(join(tmpdir(), 'import-cert-manager-out-'));
    try {
      // WHEN
      execFileSync('node', [join(root, 'scripts', 'import-cert-manager.js'), join(root, 'test', 'fixtures', 'crds', 'cert-manager'), outdir], { stdio: 'pipe' });

      // THEN
      const regenerated = readFileSync(join(outdir, 'cert-manager.io.ts'));
      expect(regenerated.equals(readFileSync(join(root, 'imports', 'cert-manager.io.ts')))).toBe(true);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
