import { spawnSync } from 'child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { which } from './binaries';

/** What a script printed and how it ended. */
export interface ScriptResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The shells the scripts must work under: BusyBox `sh` (what the Jobs run) and dash (a second,
 * strict POSIX shell, so the scripts rely on nothing BusyBox-specific).
 */
export type Shell = 'busybox' | 'dash';

/** Every shell the scripts are tested under. */
export const SHELLS: readonly Shell[] = ['busybox', 'dash'];

/**
 * A directory standing in for the Kubernetes API (see fake-kubectl.js) and a runner for the
 * credentials scripts against it, with the real `htpasswd` and the real kubectl for everything
 * that works offline.
 */
export class FakeCluster {
  /** Where the objects are stored: `<namespace>/<Kind>/<name>.json`. */
  public readonly stateDir: string;
  private readonly binDir: string;
  private readonly shellCommand: string;
  private readonly path: string;

  /**
   * @param shell the shell that runs the scripts. Under BusyBox, PATH holds only BusyBox's applets,
   * the fake kubectl and htpasswd, as in the Jobs' containers, so a script cannot lean on a tool
   * the images lack.
   */
  constructor(shell: Shell = 'dash') {
    const root = mkdtempSync(join(tmpdir(), 'fake-cluster-'));
    this.stateDir = join(root, 'state');
    this.binDir = join(root, 'bin');
    mkdirSync(this.stateDir);
    mkdirSync(this.binDir);
    writeFileSync(join(this.stateDir, 'calls.jsonl'), '');
    const shim = join(this.binDir, 'kubectl');
    writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${join(__dirname, 'fake-kubectl.js')}" "$@"\n`);
    chmodSync(shim, 0o755);
    if (shell === 'busybox') {
      const applets = join(root, 'busybox');
      mkdirSync(applets);
      const installed = spawnSync(which('busybox')!, ['--install', '-s', applets]);
      if (installed.status !== 0) {
        throw new Error(`busybox --install failed: ${installed.stderr}`);
      }
      const htpasswd = which('htpasswd');
      if (htpasswd) {
        symlinkSync(htpasswd, join(this.binDir, 'htpasswd'));
      }
      this.shellCommand = join(applets, 'sh');
      this.path = `${applets}:${this.binDir}`;
    } else {
      this.shellCommand = which('dash')!;
      this.path = `${this.binDir}:${process.env.PATH}`;
    }
  }

  /** Runs `script` with the shell, `kubectl` resolving to the fake, and `env` added to the environment. */
  public run(script: string, env: Record<string, string>): ScriptResult {
    const result = spawnSync(this.shellCommand, ['-c', script], {
      env: {
        PATH: this.path,
        REAL_KUBECTL: which('kubectl')!,
        FAKE_KUBE_STATE: this.stateDir,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    return { code: result.status, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
  }

  /** Stores an object as if it had been created through the API. */
  public put(object: { kind: string; metadata: { name: string; namespace: string }; [key: string]: unknown }): void {
    const dir = join(this.stateDir, object.metadata.namespace, object.kind);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${object.metadata.name}.json`), JSON.stringify({ apiVersion: 'v1', ...object }, null, 2));
  }

  /** The stored object, or undefined. */
  public get(namespace: string, kind: string, name: string): any {
    const file = join(this.stateDir, namespace, kind, `${name}.json`);
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf-8')) : undefined;
  }

  /** The arguments of every kubectl call so far, and forgets them. */
  public takeCalls(): string[][] {
    const file = join(this.stateDir, 'calls.jsonl');
    const calls = readFileSync(file, 'utf-8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as string[]);
    writeFileSync(file, '');
    return calls;
  }
}

/** The decoded value of a Secret's key. */
export function secretValue(secret: any, key: string): string {
  return Buffer.from(secret.data[key], 'base64').toString('utf-8');
}
