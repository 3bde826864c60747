import { accessSync, constants } from 'fs';
import { delimiter, join } from 'path';

/**
 * The binaries tests run, and how to install each: the Debian package that provides it, or a
 * page to install it from where Debian has no package.
 */
export const BINARY_SOURCES = {
  'docker-registry': { debian: 'docker-registry' },
  'skopeo': { debian: 'skopeo' },
  'openssl': { debian: 'openssl' },
  'htpasswd': { debian: 'apache2-utils' },
  'busybox': { debian: 'busybox-static' },
  'dash': { debian: 'dash' },
  'kubectl': { url: 'https://kubernetes.io/docs/tasks/tools/' },
  'unshare': { debian: 'util-linux' },
  'setpriv': { debian: 'util-linux' },
  'nsenter': { debian: 'util-linux' },
  'containerd': { debian: 'containerd' },
  'ctr': { debian: 'containerd' },
  'runc': { debian: 'runc' },
  'ip': { debian: 'iproute2' },
} as const satisfies Record<string, { readonly debian: string } | { readonly url: string }>;

/** A binary a suite can declare it needs. */
export type Binary = keyof typeof BINARY_SOURCES;

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

/** What to install to get `binaries`: `apt-get install -y <packages>` and a link for each binary Debian lacks. */
export function installHint(binaries: readonly Binary[]): string {
  const sources = binaries.map((binary) => [binary, BINARY_SOURCES[binary]] as const);
  const packages = [...new Set(sources.flatMap(([, source]) => ('debian' in source ? [source.debian] : [])))];
  const hints = [
    ...(packages.length > 0 ? [`Debian: apt-get install -y ${packages.join(' ')}`] : []),
    ...sources.flatMap(([binary, source]) => ('url' in source ? [`${binary}: ${source.url}`] : [])),
  ];
  return hints.join('; ');
}

/**
 * `describe` when nothing is `missing`. Otherwise the suite is skipped with a console warning
 * naming what is missing, or, when E2E_REQUIRED=1 (CI), replaced by one failing test, so that a
 * machine without the prerequisites cannot pass by skipping.
 *
 * @param missing sentences saying what is missing and how to get it; empty when all is there
 */
export function describeWithPrerequisites(name: string, missing: readonly string[], body: () => void): void {
  if (missing.length === 0) {
    describe(name, body);
    return;
  }
  const message = `"${name}" needs ${missing.join('; ')}`;
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

/**
 * `describeWithPrerequisites` for a suite that runs `binaries`: the message names the missing
 * ones and the Debian package (or install page) of each.
 */
export function describeWithBinaries(name: string, binaries: readonly Binary[], body: () => void): void {
  const missing = binaries.filter((binary) => which(binary) === undefined);
  describeWithPrerequisites(name, missing.length === 0 ? [] : [`${missing.join(', ')} on PATH (${installHint(missing)})`], body);
}
