import { existsSync, readFileSync } from 'fs';
import { IResolver, ResolutionContext } from 'cdk8s';
import { invalid, isDnsSubdomain, isRepositoryPath } from '../validation';
import { formatImageReference, parseImageReference } from './image-reference';

const LOCK_VERSION = 1;
const PINNED = /@sha256:[0-9a-f]{64}$/;

/**
 * The lock file `trusted-registry mirror` writes: every mirrored source reference mapped to
 * `<registry host>/<path>@sha256:...`. Use it to rewrite image references, in YAML
 * (`trusted-registry rewrite`) or in a cdk8s app as a resolver:
 * `new App({ resolvers: [MirrorLock.fromFile('images.lock.json')] })` replaces the `image` of
 * every container, init container, ephemeral container and image volume at synth, and fails the
 * synth on an image the lock file does not hold.
 */
export class MirrorLock implements IResolver {
  /** Reads a lock file; throws when it is missing or malformed. */
  public static fromFile(path: string): MirrorLock {
    let data: any;
    try {
      data = JSON.parse(readFileSync(path, 'utf-8'));
    } catch (error) {
      throw new Error(`cannot read the lock file ${path}: ${(error as Error).message}`);
    }
    if (data?.version !== LOCK_VERSION || typeof data.destination !== 'string' || typeof data.images !== 'object' || data.images === null) {
      throw new Error(`${path} is not a trusted-registry lock file (version ${LOCK_VERSION}, destination, images)`);
    }
    const lock = new MirrorLock(data.destination);
    for (const [source, target] of Object.entries(data.images)) {
      lock.add(source, String(target));
    }
    return lock;
  }

  /** Reads a lock file if it exists, else starts an empty one for `destination`; they must agree. */
  public static fromFileOrEmpty(path: string, destination: string): MirrorLock {
    if (!existsSync(path)) return new MirrorLock(destination);
    const lock = MirrorLock.fromFile(path);
    if (lock.destination !== destination.replace(/\/+$/, '')) {
      throw new Error(`${path} records mirrors into ${lock.destination}, not ${destination}; use another lock file`);
    }
    return lock;
  }

  /** `host[/path]` the images are copied under, e.g. `registry.mycorp.local/mirror`. */
  public readonly destination: string;
  private readonly images = new Map<string, string>();

  /**
   * @param destination registry host and optional path the images are copied under
   */
  constructor(destination: string) {
    const trimmed = destination.replace(/\/+$/, '');
    const [host, ...path] = trimmed.split('/');
    if (!isDnsSubdomain(host.replace(/:[0-9]+$/, '')) || (path.length > 0 && !isRepositoryPath(path.join('/')))) {
      invalid('destination', 'must be a registry host with an optional repository path (e.g. "registry.mycorp.local/mirror")', destination);
    }
    this.destination = trimmed;
  }

  /** The mirrored reference of every source, sorted by source. */
  public get entries(): Record<string, string> {
    return Object.fromEntries([...this.images].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /**
   * Where a source image is copied to (without digest): `<destination>/<source host>/<repository>`,
   * the host's `:port` written `-port` so it is a valid path component.
   */
  public targetRepository(source: string): string {
    const parsed = parseImageReference(source);
    return `${this.destination}/${parsed.domain.toLowerCase().replace(':', '-')}/${parsed.path}`;
  }

  /** Records a mirrored image. */
  public add(source: string, mirrored: string): void {
    if (!PINNED.test(mirrored) || !mirrored.startsWith(`${this.destination}/`)) {
      throw new Error(`the mirror of ${source} must be ${this.destination}/...@sha256:<64 hex>, got ${mirrored}`);
    }
    this.images.set(source, mirrored);
  }

  /** The mirrored reference of a source image, if recorded (compared as written, then normalized). */
  public lookup(source: string): string | undefined {
    const exact = this.images.get(source);
    if (exact !== undefined) return exact;
    let normalized: string;
    try {
      normalized = formatImageReference(parseImageReference(source));
    } catch {
      return undefined;
    }
    for (const [recorded, mirrored] of this.images) {
      try {
        if (formatImageReference(parseImageReference(recorded)) === normalized) return mirrored;
      } catch {
        // a malformed recorded key matches nothing
      }
    }
    return undefined;
  }

  /**
   * The reference to use instead of `image`: its mirror, or `image` itself when it is already a
   * digest reference under the destination. Throws for anything else, so nothing unmirrored
   * reaches the output.
   */
  public resolveImage(image: string): string {
    if (image.startsWith(`${this.destination}/`) && PINNED.test(image)) return image;
    const mirrored = this.lookup(image);
    if (mirrored === undefined) {
      throw new Error(`image "${image}" is not in the lock file (mirrored into ${this.destination}); run \`trusted-registry mirror\` for it first`);
    }
    return mirrored;
  }

  /** The lock file's content: sorted, so the file only changes when the mirrors do. */
  public toJson(): string {
    return JSON.stringify({ version: LOCK_VERSION, destination: this.destination, images: this.entries }, null, 2) + '\n';
  }

  /** cdk8s resolver: replaces image references in pod specs at synth. */
  public resolve(context: ResolutionContext): void {
    if (typeof context.value === 'string' && isImageField(context.key)) {
      const resolved = this.resolveImage(context.value);
      // cdk8s resolves a replaced value again: replacing it with itself would never end.
      if (resolved !== context.value) context.replaceValue(resolved);
    }
  }
}

const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);

/** `.../containers/<i>/image` and `.../volumes/<i>/image/reference` inside a `spec`. */
export function isImageField(key: readonly string[]): boolean {
  const n = key.length;
  if (n >= 3 && key[n - 1] === 'image' && CONTAINER_LISTS.has(key[n - 3]) && /^[0-9]+$/.test(key[n - 2])) return true;
  return n >= 4 && key[n - 1] === 'reference' && key[n - 2] === 'image' && key[n - 4] === 'volumes' && /^[0-9]+$/.test(key[n - 3]);
}
