import { ChildProcess, spawn } from 'child_process';
import { request } from 'http';
import { mkdtempSync, writeFileSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';

/** GETs `url` and resolves with the status code. */
export function httpStatus(url: string, auth?: { username: string; password: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = auth
      ? { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` }
      : {};
    const req = request(url, { headers, timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * `docker-registry serve` (distribution 2.8) on 127.0.0.1 over plain HTTP with htpasswd
 * authentication against `htpasswdPath`, the smallest setup that answers the question "does the
 * registry accept these credentials". TLS is covered by the e2e suite.
 */
export class LocalRegistry {
  /** Starts the registry and resolves once `/` answers 200. */
  public static async start(htpasswdPath: string): Promise<LocalRegistry> {
    const dir = mkdtempSync(join(tmpdir(), 'local-registry-'));
    const port = await freeLoopbackPort();
    const config = join(dir, 'config.yml');
    writeFileSync(config, [
      'version: 0.1',
      'log: { level: warn }',
      `storage: { filesystem: { rootdirectory: ${JSON.stringify(join(dir, 'data'))} } }`,
      `http: { addr: "127.0.0.1:${port}" }`,
      `auth: { htpasswd: { realm: test, path: ${JSON.stringify(htpasswdPath)} } }`,
      '',
    ].join('\n'));
    const registry = new LocalRegistry(spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] }), `http://127.0.0.1:${port}`);
    await registry.waitUntilServing();
    return registry;
  }

  /** What the process printed. */
  public output = '';

  private constructor(private readonly child: ChildProcess, public readonly url: string) {
    child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
  }

  /** Status of `GET /v2/` with the credentials. */
  public v2Status(username: string, password: string): Promise<number> {
    return httpStatus(`${this.url}/v2/`, { username, password });
  }

  /** Kills the process and waits until it is gone. */
  public async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return;
    }
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }

  private async waitUntilServing(): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) {
        throw new Error(`docker-registry exited before serving:\n${this.output}`);
      }
      if (await httpStatus(`${this.url}/`).catch(() => 0) === 200) {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await this.stop();
    throw new Error(`docker-registry did not serve ${this.url}/ within 15 s:\n${this.output}`);
  }
}
