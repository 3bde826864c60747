import { mkdirSync } from 'fs';
import { join } from 'path';
import { runChecked } from '../e2e/exec';
import { buildLocalImage, executableWithLibraries, ImageFile, LocalImage, LocalImageSpec } from './local-image';

/** The images every pod of the chain runs, built on this machine from Debian packages and the Kubernetes build. */
export interface NodeImages {
  /** The pod sandbox: BusyBox's `sleep` in place of `pause`. */
  readonly pause: LocalImage;
  /** BusyBox (busybox-static) with every applet: NodeTrust's `sh`, `awk`, `cmp`, ..., and the shell the kubectl containers borrow. */
  readonly shell: LocalImage;
  /** The shell plus `htpasswd` (apache2-utils) and its libraries (the credentials generator's first step). */
  readonly htpasswd: LocalImage;
  /**
   * `kubectl` from scripts/build-kube.sh at /bin/kubectl and nothing else, like
   * registry.k8s.io/kubectl: the Jobs and NodeTrust's resolver borrow the shell image's BusyBox.
   */
  readonly kubectl: LocalImage;
  /** `registry serve /etc/docker/registry/config.yml` from the docker-registry package (distribution 2.8). */
  readonly registry: LocalImage;
}

/** Debian packages the images are made from (the Kubernetes build provides kubectl). */
export const NODE_IMAGE_PACKAGES = ['busybox-static', 'apache2-utils', 'docker-registry'] as const;

async function busyboxFiles(): Promise<{ files: ImageFile[]; symlinks: Record<string, string> }> {
  const applets = (await runChecked('/bin/busybox', ['--list'], { timeoutMs: 10_000 })).stdout.split('\n').filter((name) => /^[a-z0-9_.[-]+$/.test(name) && name !== 'busybox');
  const symlinks: Record<string, string> = {};
  for (const applet of applets) symlinks[`/bin/${applet}`] = 'busybox';
  // Statically linked (busybox-static), as the constructs require of the shell image they copy
  // BusyBox from; a dynamic one would take its libraries along here but fail in kubectl's container.
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
    kubectl: await build({ name: 'kubectl', files: [{ source: kubectlBinary, target: '/bin/kubectl' }], directories: ['/tmp'] }),
    registry: await build({
      name: 'registry',
      files: await executableWithLibraries('/usr/bin/docker-registry', '/bin/registry'),
      directories: ['/etc/docker/registry', '/var/lib/registry'],
      entrypoint: ['/bin/registry'],
      cmd: ['serve', '/etc/docker/registry/config.yml'],
    }),
  };
}
