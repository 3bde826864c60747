import { accessSync, constants } from 'fs';
import { delimiter, join } from 'path';

/** The absolute path of the executable `name` on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/**
 * `describe` when every binary is on PATH. Otherwise the suite is skipped with a console warning
 * naming what is missing, or, when E2E_REQUIRED=1 (CI), replaced by one failing test, so that a
 * machine without the binaries cannot pass by skipping.
 */
export function describeWithBinaries(name: string, binaries: readonly string[], body: () => void): void {
  const missing = binaries.filter((binary) => which(binary) === undefined);
  if (missing.length === 0) {
    describe(name, body);
    return;
  }
  const message = `"${name}" needs ${missing.join(', ')} on PATH (Debian: apt-get install -y apache2-utils docker-registry; kubectl: https://kubernetes.io/docs/tasks/tools/)`;
  if (process.env.E2E_REQUIRED === '1') {
    describe(name, () => {
      test('has its prerequisites installed (E2E_REQUIRED=1)', () => {
        throw new Error(message);
      });
    });
    return;
  }
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED: ${message}`);
  describe.skip(name, body);
}
