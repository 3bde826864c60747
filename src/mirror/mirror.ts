import { spawn } from 'child_process';
import { createHash } from 'crypto';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseImageReference } from './image-reference';
import { MirrorLock } from './mirror-lock';

/** How skopeo reaches the source registries and the destination. */
export interface SkopeoAccess {
  /** Credentials file (`skopeo login` writes one) for every registry. @default - skopeo's default */
  readonly authfile?: string;
  /** CA certificates (`*.crt`) of the source registries. */
  readonly srcCertDir?: string;
  /** CA certificates (`*.crt`) of the destination registry. */
  readonly destCertDir?: string;
  /** @default true */
  readonly srcTlsVerify?: boolean;
  /** @default true */
  readonly destTlsVerify?: boolean;
  /** The skopeo binary. @default 'skopeo' */
  readonly command?: string;
  /** Bound on each skopeo run. @default 600000 */
  readonly timeoutMs?: number;
}

export interface MirrorOptions {
  /** Where to copy to and what was copied before; updated in place. */
  readonly lock: MirrorLock;
  readonly skopeo?: SkopeoAccess;
  /**
   * `host:port` to reach the destination registry at, when it differs from the host image
   * references name (e.g. `127.0.0.1:5000` through `kubectl port-forward`). The lock file still
   * records the destination's name, which is what pods pull.
   * @default - the destination host
   */
  readonly via?: string;
  /** One line per image. */
  readonly log?: (line: string) => void;
}

export interface MirrorResult {
  readonly copied: string[];
  readonly present: string[];
  readonly failed: Array<{ readonly image: string; readonly error: string }>;
}

/**
 * Copies each image by digest, every platform (`skopeo copy --all --preserve-digests`), to
 * `lock.targetRepository(image)`, unless the registry already holds that digest there; records
 * each in the lock. A failing image is reported and the others continue.
 */
export async function mirrorImages(images: readonly string[], options: MirrorOptions): Promise<MirrorResult> {
  if (options.via !== undefined && !/^[A-Za-z0-9.-]+(?::[0-9]+)?$/.test(options.via)) {
    throw new Error(`'via' must be host or host:port, got ${JSON.stringify(options.via)}`);
  }
  const skopeo = new SkopeoRunner(options.skopeo ?? {});
  const log = options.log ?? (() => undefined);
  const result: MirrorResult = { copied: [], present: [], failed: [] };
  for (const image of [...new Set(images)].sort()) {
    try {
      const outcome = await mirrorOne(image, options.lock, skopeo, options.via);
      (outcome === 'copied' ? result.copied : result.present).push(image);
      log(`mirror: ${outcome === 'copied' ? 'copied' : 'present'} ${image} -> ${options.lock.lookup(image)}`);
    } catch (error) {
      const message = (error as Error).message;
      result.failed.push({ image, error: message });
      log(`mirror: FAILED ${image}: ${message}`);
    }
  }
  return result;
}

async function mirrorOne(image: string, lock: MirrorLock, skopeo: SkopeoRunner, via: string | undefined): Promise<'copied' | 'present'> {
  const source = parseImageReference(image);
  const sourceRepository = `${source.domain}/${source.path}`;
  const target = lock.targetRepository(image);
  const destinationHost = lock.destination.split('/')[0];
  const address = via === undefined ? target : `${via}${target.slice(destinationHost.length)}`;
  // The digest: the one the reference pins, the one recorded before, or the source's now.
  const recorded = lock.lookup(image);
  const digest = source.digest
    ?? (recorded?.startsWith(`${target}@`) ? recorded.slice(target.length + 1) : undefined)
    ?? await skopeo.digestOf(`docker://${source.tag ? `${sourceRepository}:${source.tag}` : sourceRepository}`, 'src');
  const mirrored = `${target}@${digest}`;
  if (await skopeo.exists(`docker://${address}@${digest}`)) {
    lock.add(image, mirrored);
    return 'present';
  }
  // A tag keeps the copy visible in the registry's catalog and tag list; the lock pins the digest.
  const tag = source.tag ?? digest.replace(':', '-');
  const written = await skopeo.copy(`docker://${sourceRepository}@${digest}`, `docker://${address}:${tag}`);
  if (written !== digest) {
    throw new Error(`the copy has digest ${written}, not ${digest}`);
  }
  lock.add(image, mirrored);
  return 'copied';
}

class SkopeoRunner {
  constructor(private readonly access: SkopeoAccess) {}

  /** sha256 of the raw manifest (the index for multi-platform images), as runtimes pull it by. */
  async digestOf(reference: string, side: 'src' | 'dest'): Promise<string> {
    const { stdout } = await this.run(['inspect', '--raw', ...this.flags(side, true), reference], true);
    return `sha256:${createHash('sha256').update(stdout).digest('hex')}`;
  }

  async exists(reference: string): Promise<boolean> {
    const { code } = await this.run(['inspect', '--raw', ...this.flags('dest', true), reference], false);
    return code === 0;
  }

  /** Copies and returns the digest of the manifest written. */
  async copy(from: string, to: string): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'trusted-registry-mirror-'));
    try {
      const digestFile = join(dir, 'digest');
      await this.run(['copy', '--all', '--preserve-digests', '--digestfile', digestFile, ...this.flags('src', false), ...this.flags('dest', false), from, to], true);
      return readFileSync(digestFile, 'utf-8').trim();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** `--src-...`/`--dest-...` for copy, plain `--...` for inspect. */
  private flags(side: 'src' | 'dest', inspect: boolean): string[] {
    const prefix = inspect ? '--' : `--${side}-`;
    const certDir = side === 'src' ? this.access.srcCertDir : this.access.destCertDir;
    const tlsVerify = side === 'src' ? this.access.srcTlsVerify : this.access.destTlsVerify;
    const flags: string[] = [];
    if (this.access.authfile) flags.push(`${prefix}authfile`, this.access.authfile);
    if (certDir) flags.push(`${prefix}cert-dir`, certDir);
    if (tlsVerify === false) flags.push(`${prefix}tls-verify=false`);
    return flags;
  }

  private run(args: string[], checked: boolean): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.access.command ?? 'skopeo', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const stdout: Buffer[] = [];
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), this.access.timeoutMs ?? 600_000);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`cannot run skopeo: ${error.message}`));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (checked && code !== 0) {
          reject(new Error(`skopeo ${args[0]} exited with ${code ?? signal}: ${stderr.trim().split('\n').pop()}`));
        } else {
          resolve({ code, stdout: Buffer.concat(stdout), stderr });
        }
      });
    });
  }
}
