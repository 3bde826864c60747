import { createHash, randomBytes } from 'crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { gzipSync } from 'zlib';

export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** Options of `writeOciImage()`. */
export interface OciImageOptions {
  /** The tag the image has in the layout (`oci:<dir>:<tag>`). */
  readonly tag: string;
  /** Size in bytes of the random file inside each layer; one layer per entry. */
  readonly layerSizes: readonly number[];
}

/** An image written as an OCI image layout. */
export interface OciImage {
  /** The layout directory. */
  readonly dir: string;
  readonly tag: string;
  /** Digest of the image manifest: what the image is pulled by. */
  readonly manifestDigest: string;
  /** Every blob of the image (manifest, config, layers) by digest. */
  readonly blobs: ReadonlyMap<string, Buffer>;
}

/**
 * Writes a single-platform image made of random bytes as an OCI image layout in `dir`
 * (`oci-layout`, `index.json`, `blobs/sha256/...`): one gzipped tar layer per `layerSizes` entry,
 * each holding one file of random content, so no two images share a blob.
 */
export function writeOciImage(dir: string, options: OciImageOptions): OciImage {
  const blobs = new Map<string, Buffer>();
  const addBlob = (bytes: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    blobs.set(digest, bytes);
    return { digest, size: bytes.length };
  };

  const diffIds: string[] = [];
  const layers = options.layerSizes.map((size, index) => {
    const tar = tarOfOneFile(`layer-${index}.bin`, randomBytes(size));
    diffIds.push(`sha256:${createHash('sha256').update(tar).digest('hex')}`);
    // Level 1: random bytes do not compress, so a higher level only burns CPU.
    return { mediaType: OCI_LAYER_MEDIA_TYPE, ...addBlob(gzipSync(tar, { level: 1 })) };
  });
  const config = addBlob(Buffer.from(JSON.stringify({
    created: new Date().toISOString(),
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/layer-0.bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
  })));
  const manifest = addBlob(Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: { mediaType: OCI_CONFIG_MEDIA_TYPE, ...config },
    layers,
  })));

  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [digest, bytes] of blobs) {
    writeFileSync(blobPath(dir, digest), bytes);
  }
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX_MEDIA_TYPE,
    manifests: [{ mediaType: OCI_MANIFEST_MEDIA_TYPE, ...manifest, annotations: { [REF_NAME_ANNOTATION]: options.tag } }],
  }));
  return { dir, tag: options.tag, manifestDigest: manifest.digest, blobs };
}

/** Every blob file of an OCI layout (e.g. one skopeo pulled into), by the digest its name claims. */
export function readOciBlobs(dir: string): Map<string, Buffer> {
  const blobDir = join(dir, 'blobs', 'sha256');
  return new Map(readdirSync(blobDir).map((hex) => [`sha256:${hex}`, readFileSync(join(blobDir, hex))]));
}

/** The manifest digest `index.json` of an OCI layout records for `tag`. */
export function ociManifestDigest(dir: string, tag: string): string {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf-8'));
  const entry = index.manifests.find((m: any) => m.annotations?.[REF_NAME_ANNOTATION] === tag);
  if (!entry) {
    throw new Error(`${dir}/index.json has no manifest tagged ${tag}`);
  }
  return entry.digest;
}

function blobPath(dir: string, digest: string): string {
  return join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

/** A POSIX ustar archive holding one regular file. */
function tarOfOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, '0');
  field(0, 100, name);
  field(100, 8, octal(0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(content.length, 12));
  field(136, 12, octal(0, 12));
  field(148, 8, ' '.repeat(8)); // the checksum is computed over spaces in its own field
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  field(148, 8, `${octal(checksum, 7)}\0`);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  // Two zero blocks end the archive.
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}
