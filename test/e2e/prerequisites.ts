import { accessSync, constants } from 'fs';
import { delimiter, join } from 'path';

/** The binaries the end-to-end suite runs, and the Debian package that provides each. */
export const E2E_BINARIES: Readonly<Record<string, string>> = {
  'docker-registry': 'docker-registry',
  'skopeo': 'skopeo',
  'openssl': 'openssl',
};

/** True when an executable named `name` is on PATH. */
export function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).filter(Boolean).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The names of the binaries in `E2E_BINARIES` that are not on PATH. */
export function missingE2eBinaries(): string[] {
  return Object.keys(E2E_BINARIES).filter((name) => !onPath(name));
}

/** The sentence that tells a developer what to install. */
export function missingBinariesMessage(missing: readonly string[]): string {
  const packages = [...new Set(Object.values(E2E_BINARIES))].join(' ');
  return `end-to-end registry suite needs ${missing.join(', ')} on PATH; install with: apt-get install -y ${packages}`;
}

/**
 * `describe` when every binary is present. Otherwise the suite is skipped with a console warning,
 * or, when E2E_REQUIRED=1 (set by CI), replaced by one failing test, so that a CI image without
 * the packages cannot pass by silently skipping.
 */
export function describeE2e(name: string, body: () => void): void {
  const missing = missingE2eBinaries();
  if (missing.length === 0) {
    describe(name, body);
    return;
  }
  const message = missingBinariesMessage(missing);
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
