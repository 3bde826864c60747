import { mkdirSync } from 'fs';
import { join } from 'path';
import { runChecked } from '../e2e/exec';
import { buildLocalImage, executableWithLibraries, ImageFile, LocalImage, LocalImageSpec } from './local-image';

/** The images every pod of the chain runs, built on this machine from Debian packages and the Kubernetes build. */
export interface NodeImages {
  /** The pod sandbox: BusyBox `sleep` in place of `pause`. */
  readonly pause: LocalImage;
  /** BusyBox with every applet: `sh`, `nslookup`, `awk`, `sed`, `cmp`, ... (NodeTrust). */
  readonly shell: LocalImage;
  /** The shell plus `htpasswd` (apache2-utils) and its libraries (the credentials generator's first step). */
  readonly htpasswd: LocalImage;
  /** The shell plus `kubectl` from scripts/build-kube.sh (the credentials and pull-access Jobs). */
  readonly kubectl: LocalImage;
  /** `registry serve /etc/docker/registry/config.yml` from the docker-registry package (distribution 2.8). */
  readonly registry: LocalImage;
}

/** Debian packages the images are made from (the Kubernetes build provides kubectl). */
export const NODE_IMAGE_PACKAGES = ['busybox', 'apache2-utils', 'docker-registry'] as const;

async function busyboxFiles(): Promise<{ files: ImageFile[]; symlinks: Record<string, string> }> {
  const applets = (await runChecked('/bin/busybox', ['--list'], { timeoutMs: 10_000 })).stdout.split('\n').filter((name) => /^[a-z0-9_.[-]+$/.test(name) && name !== 'busybox');
  const symlinks: Record<string, string> = {};
  for (const applet of applets) symlinks[`/bin/${applet}`] = 'busybox';
  // Debian's busybox is dynamically linked (busybox-static is not): take its libraries along.
  return { files: await executableWithLibraries('/bin/busybox'), symlinks };
}

/** Builds every image of `NodeImages` into `dir` (OCI archives). */
export async function buildNodeImages(dir: string, kubectlBinary: string): Promise<NodeImages> {
  mkdirSync(dir, { recursive: true });
  const busybox = await busyboxFiles();
  const shellSpec = (name: string, extra: ImageFile[]): LocalImageSpec => ({
    name,
    files: [...busybox.files, ...extra],
    symlinks: busybox.symlinks,
    directories: ['/tmp', '/etc'],
  });
  const build = (spec: LocalImageSpec) => buildLocalImage(join(dir, spec.name), spec);
  return {
    pause: await build({ name: 'pause', files: busybox.files, entrypoint: ['/bin/busybox', 'sleep', 'infinity'] }),
    shell: await build(shellSpec('shell', [])),
    htpasswd: await build(shellSpec('htpasswd', await executableWithLibraries('/usr/bin/htpasswd'))),
    kubectl: await build(shellSpec('kubectl', [{ source: kubectlBinary, target: '/usr/local/bin/kubectl' }])),
    registry: await build({
      name: 'registry',
      files: await executableWithLibraries('/usr/bin/docker-registry', '/bin/registry'),
      directories: ['/etc/docker/registry', '/var/lib/registry'],
      entrypoint: ['/bin/registry'],
      cmd: ['serve', '/etc/docker/registry/config.yml'],
    }),
  };
}
