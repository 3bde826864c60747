import { ChildProcess, spawn } from 'child_process';
import { appendFileSync } from 'fs';
import { createServer } from 'net';
import { join } from 'path';
import { httpRequest } from './registry-client';

/** Options of `RegistryProcess.start()`. */
export interface RegistryProcessOptions {
  /** The `config.yml` to serve. */
  readonly configPath: string;
  /** `host:port` the configuration listens on. */
  readonly addr: string;
  /** TMPDIR of the process (the pod's `/tmp` emptyDir). */
  readonly tmpDir: string;
  /** CA that signed the served certificate; absent when the configuration serves plain HTTP. */
  readonly caPem?: string;
  /** Name to verify the served certificate for. @default '127.0.0.1' */
  readonly servername?: string;
  /** Directory the process's output is appended to as `registry.log`. */
  readonly logDir: string;
  /** How long to wait for the registry to answer `/`. @default 15000 */
  readonly readyTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
// Last line of defence for a test run that dies before its afterAll: never leave a registry behind.
process.once('exit', () => live.forEach((child) => child.kill('SIGKILL')));

/**
 * A `docker-registry serve` process. `start()` resolves once `/` answers 200, so callers never
 * race the listener; `kill()` resolves once the process is gone.
 */
export class RegistryProcess {
  /** Starts the registry and waits until it serves. */
  public static async start(options: RegistryProcessOptions): Promise<RegistryProcess> {
    const registry = new RegistryProcess(options);
    await registry.waitUntilServing(options.readyTimeoutMs ?? 15_000);
    return registry;
  }

  /** Everything the process printed (the registry logs to stderr). */
  public output = '';
  /** The base URL, `https://127.0.0.1:<port>` or `http://...`. */
  public readonly url: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  private constructor(private readonly options: RegistryProcessOptions) {
    this.url = `${options.caPem ? 'https' : 'http'}://${options.addr}`;
    this.child = spawn('docker-registry', ['serve', options.configPath], {
      env: { PATH: process.env.PATH, TMPDIR: options.tmpDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(this.child);
    const logFile = join(options.logDir, 'registry.log');
    const record = (chunk: Buffer) => {
      this.output += chunk.toString();
      appendFileSync(logFile, chunk);
    };
    this.child.stdout!.on('data', record);
    this.child.stderr!.on('data', record);
    this.exited = new Promise((resolve) => this.child.once('exit', () => {
      live.delete(this.child);
      resolve();
    }));
  }

  /** Whether the process is still running. */
  public get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends SIGKILL (a crash: no shutdown code runs) and waits for the process to be gone. */
  public async kill(): Promise<void> {
    if (this.running) {
      this.child.kill('SIGKILL');
    }
    await this.exited;
  }

  /** A new process with the same configuration (and so the same storage and port). */
  public restart(): Promise<RegistryProcess> {
    return RegistryProcess.start(this.options);
  }

  private async waitUntilServing(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError = '';
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new Error(`docker-registry exited before serving:\n${this.output}`);
      }
      try {
        const response = await httpRequest(`${this.url}/`, { caPem: this.options.caPem, servername: this.options.servername, timeoutMs: 2_000 });
        if (response.status === 200) {
          return;
        }
        lastError = `status ${response.status}`;
      } catch (error) {
        lastError = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await this.kill();
    throw new Error(`docker-registry did not serve ${this.url}/ within ${timeoutMs} ms (last: ${lastError}):\n${this.output}`);
  }
}

/** Kills every registry process this module started that is still running. */
export async function killAllRegistries(): Promise<void> {
  await Promise.all([...live].map((child) => new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  })));
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
