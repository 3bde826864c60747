import { mkdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { run, runChecked, RunResult } from './exec';
import { Credentials } from './registry-client';

/** Options of `Skopeo`. */
export interface SkopeoOptions {
  /** `127.0.0.1:<port>` of the registry. */
  readonly registryAddr: string;
  /** Scratch directory: HOME (so no user configuration is read), temporary files, digest files. */
  readonly workDir: string;
  /** A directory holding the registry's CA as `ca.crt`; absent for a plain-HTTP registry. */
  readonly caDir?: string;
  readonly credentials?: Credentials;
  /** Bound on every skopeo invocation. @default 60000 */
  readonly timeoutMs?: number;
}

let invocation = 0;

/** skopeo against one registry: push OCI layouts to it, pull from it by digest. */
export class Skopeo {
  private readonly timeoutMs: number;

  constructor(private readonly options: SkopeoOptions) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    mkdirSync(join(options.workDir, 'home'), { recursive: true });
    mkdirSync(join(options.workDir, 'tmp'), { recursive: true });
  }

  /** `docker://<registry>/<repository>:<tag>` or `...@sha256:...`. */
  public reference(repository: string, tagOrDigest: string): string {
    const separator = tagOrDigest.startsWith('sha256:') ? '@' : ':';
    return `docker://${this.options.registryAddr}/${repository}${separator}${tagOrDigest}`;
  }

  /**
   * Starts pushing `oci:<layoutDir>:<tag>` to `<repository>:<tag>` and resolves with skopeo's exit
   * status and the manifest digest it wrote (only when it succeeded), without throwing on failure:
   * a push the registry dies under is expected to fail.
   */
  public async tryPush(layoutDir: string, tag: string, repository: string): Promise<{ result: RunResult; digest?: string }> {
    const digestFile = join(this.options.workDir, `digest-${process.pid}-${++invocation}`);
    const result = await this.skopeo([
      'copy', '--quiet', '--preserve-digests', '--digestfile', digestFile,
      ...this.registryFlags('dest'),
      `oci:${layoutDir}:${tag}`, this.reference(repository, tag),
    ], false);
    return { result, digest: result.code === 0 ? readFileSync(digestFile, 'utf-8').trim() : undefined };
  }

  /** Pushes and resolves with the manifest digest; rejects when skopeo fails. */
  public async push(layoutDir: string, tag: string, repository: string): Promise<string> {
    const { result, digest } = await this.tryPush(layoutDir, tag, repository);
    if (!digest) {
      throw new Error(`skopeo push of ${repository}:${tag} exited with ${result.code ?? result.signal}: ${result.stderr.trim()}`);
    }
    return digest;
  }

  /** Copies `<repository>@<digest>` from the registry into the OCI layout `oci:<layoutDir>:<tag>`. */
  public async pullByDigest(repository: string, digest: string, layoutDir: string, tag: string): Promise<void> {
    mkdirSync(layoutDir, { recursive: true });
    await this.skopeo([
      'copy', '--quiet', '--preserve-digests',
      ...this.registryFlags('src'),
      this.reference(repository, digest), `oci:${layoutDir}:${tag}`,
    ], true);
  }

  /** `skopeo inspect` of an image in the registry: its digest, tags, layers... */
  public async inspect(repository: string, tagOrDigest: string): Promise<Record<string, any>> {
    const result = await this.skopeo(['inspect', ...this.registryFlags(''), this.reference(repository, tagOrDigest)], true);
    return JSON.parse(result.stdout);
  }

  private registryFlags(side: 'src' | 'dest' | ''): string[] {
    const prefix = side ? `--${side}-` : '--';
    const flags: string[] = [];
    if (this.options.caDir) {
      flags.push(`${prefix}cert-dir`, this.options.caDir);
    } else {
      flags.push(`${prefix}tls-verify=false`);
    }
    if (this.options.credentials) {
      flags.push(`${prefix}creds`, `${this.options.credentials.username}:${this.options.credentials.password}`);
    } else {
      flags.push(`${prefix}no-creds`);
    }
    return flags;
  }

  private skopeo(args: string[], checked: boolean): Promise<RunResult> {
    // --insecure-policy: the test images are unsigned, and the system policy.json (if any) must
    // not decide the outcome.
    const fullArgs = ['--insecure-policy', '--tmpdir', join(this.options.workDir, 'tmp'), ...args];
    const env = { PATH: process.env.PATH, HOME: join(this.options.workDir, 'home') };
    const redact = this.options.credentials ? [this.options.credentials.password] : [];
    return (checked ? runChecked : run)('skopeo', fullArgs, { timeoutMs: this.timeoutMs, env, redact });
  }
}
