import { createHash } from 'crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { runChecked } from '../e2e/exec';

const COMMAND_TIMEOUT_MS = 120_000;
const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';

/**
 * The host of every locally built image: `.invalid` is reserved (RFC 2606), so nothing can ever
 * pull these names from anywhere; they run only because they were imported on the node.
 */
export const LOCAL_IMAGE_HOST = 'e2e.invalid';

/** One file of an image: a copy of a file on this machine, e.g. a binary a Debian package installed. */
export interface ImageFile {
  readonly source: string;
  /** Absolute path in the image. */
  readonly target: string;
}

/** What `buildLocalImage()` makes. */
export interface LocalImageSpec {
  /** Repository under LOCAL_IMAGE_HOST, e.g. `shell`. */
  readonly name: string;
  readonly files: readonly ImageFile[];
  /** Symbolic links in the image: path → target. */
  readonly symlinks?: Readonly<Record<string, string>>;
  /** Empty directories (mode 1777 for `/tmp`, 0755 otherwise). */
  readonly directories?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: readonly string[];
}

/** A built image: its OCI archive and the reference that pins it. */
export interface LocalImage {
  readonly name: string;
  /** `e2e.invalid/<name>@sha256:<manifest digest>`. */
  readonly reference: string;
  readonly manifestDigest: string;
  /** An OCI image layout as a tar archive, as `ctr images import` reads it. */
  readonly archive: string;
}

/**
 * The files a dynamically linked executable needs: itself and every shared library `ldd` lists
 * (with the dynamic loader), at the same paths in the image. A static binary needs only itself.
 */
export async function executableWithLibraries(source: string, target = source): Promise<ImageFile[]> {
  const ldd = await runChecked('sh', ['-c', 'ldd "$1" || true', 'ldd', source], { timeoutMs: COMMAND_TIMEOUT_MS });
  const libraries = [...ldd.stdout.matchAll(/(\/\S+) \(0x/g)].map((match) => match[1]);
  return [{ source, target }, ...libraries.map((library) => ({ source: library, target: library }))];
}

/**
 * Builds a single-layer linux/amd64 OCI image from files of this machine, into `dir`. The layer
 * is a deterministic tar (sorted, owner root, mtime 0) so the same files give the same digest.
 */
export async function buildLocalImage(dir: string, spec: LocalImageSpec): Promise<LocalImage> {
  const root = mkdtempSync(join(tmpdir(), `image-${spec.name}-`));
  try {
    for (const directory of spec.directories ?? []) {
      mkdirSync(join(root, directory), { recursive: true });
      chmodSync(join(root, directory), directory === '/tmp' ? 0o1777 : 0o755);
    }
    for (const file of spec.files) {
      mkdirSync(dirname(join(root, file.target)), { recursive: true });
      copyFileSync(file.source, join(root, file.target));
    }
    for (const [path, target] of Object.entries(spec.symlinks ?? {})) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      symlinkSync(target, join(root, path));
    }
    const blobs = join(dir, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const addBlob = (bytes: Buffer) => {
      const hex = createHash('sha256').update(bytes).digest('hex');
      writeFileSync(join(blobs, hex), bytes);
      return { digest: `sha256:${hex}`, size: bytes.length };
    };
    const layerTar = join(dir, 'layer.tar');
    await runChecked('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', root, '-cf', layerTar, '.'], { timeoutMs: COMMAND_TIMEOUT_MS });
    const tarBytes = readFileSync(layerTar);
    const diffId = `sha256:${createHash('sha256').update(tarBytes).digest('hex')}`;
    await runChecked('gzip', ['-n', '-1', '-f', layerTar], { timeoutMs: COMMAND_TIMEOUT_MS });
    const layer = { mediaType: OCI_LAYER_MEDIA_TYPE, ...addBlob(readFileSync(`${layerTar}.gz`)) };
    rmSync(`${layerTar}.gz`);
    const config = { mediaType: OCI_CONFIG_MEDIA_TYPE, ...addBlob(Buffer.from(JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {
        ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
        ...(spec.cmd ? { Cmd: spec.cmd } : {}),
        Env: spec.env ?? ['PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin'],
      },
      rootfs: { type: 'layers', diff_ids: [diffId] },
    }))) };
    const manifest = addBlob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST_MEDIA_TYPE, config, layers: [layer] })));
    const repository = `${LOCAL_IMAGE_HOST}/${spec.name}`;
    const reference = `${repository}@${manifest.digest}`;
    writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(join(dir, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX_MEDIA_TYPE,
      // containerd names the imported image after this annotation: the digest reference itself,
      // which is what pods name, so the kubelet finds it present and never pulls.
      manifests: [{ mediaType: OCI_MANIFEST_MEDIA_TYPE, ...manifest, annotations: { 'io.containerd.image.name': reference } }],
    }));
    const archive = `${dir}.tar`;
    await runChecked('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', dir, '-cf', archive, 'oci-layout', 'index.json', 'blobs'], { timeoutMs: COMMAND_TIMEOUT_MS });
    return { name: spec.name, reference, manifestDigest: manifest.digest, archive };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
