import { ChildProcess, spawn, spawnSync } from 'child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, relative } from 'path';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { NodeTrustMode } from '../../src';
import { NODE_TRUST_MARKER, renderNodeTrustScript } from '../../src/tls/node-trust-script';

const HOST = 'registry.example.com';
const SERVICE = 'registry.registry.svc.cluster.local';
const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const HOSTS_BEFORE = [
  '127.0.0.1 localhost',
  '::1 localhost ip6-localhost',
  '# a comment the node owner wrote',
  '10.0.0.7 registry.example.com.au # managed by cdk8s-trusted-registry NodeTrust: registry.example.com.au',
  '192.168.1.20 build-server',
  '',
].join('\n');

/** A node's root in a temporary directory, a PATH shim answering nslookup, and the script. */
class FakeNode {
  public readonly dir = mkdtempSync(join(tmpdir(), 'node-trust-'));
  public readonly root = join(this.dir, 'root');
  private readonly bin = join(this.dir, 'bin');
  private readonly script = join(this.dir, 'node-trust.sh');
  private readonly caFile = join(this.dir, 'ca.crt');

  constructor(mode: NodeTrustMode, intervalSeconds = 60) {
    mkdirSync(join(this.root, 'etc'), { recursive: true });
    mkdirSync(this.bin);
    mkdirSync(join(this.dir, 'tmp'));
    writeFileSync(join(this.root, 'etc', 'hosts'), HOSTS_BEFORE);
    writeFileSync(this.caFile, CA);
    writeFileSync(this.script, renderNodeTrustScript({ registryHost: HOST, serviceDnsName: SERVICE, mode, intervalSeconds }));
    // Answers like busybox's nslookup: the server's address first, then the name's, read from
    // the file `cluster-ip`; fails like nslookup when that is empty.
    writeFileSync(join(this.bin, 'nslookup'), [
      '#!/bin/sh',
      `ip=$(cat '${join(this.dir, 'cluster-ip')}')`,
      '[ -n "$ip" ] || { echo "** server can\'t find $1: NXDOMAIN"; exit 1; }',
      'printf "Server:\\t\\t10.96.0.10\\nAddress:\\t10.96.0.10:53\\n\\n\\nName:\\t%s\\nAddress: %s\\n\\n" "$1" "$ip"',
      '',
    ].join('\n'));
    chmodSync(join(this.bin, 'nslookup'), 0o755);
  }

  /** Makes the stub DNS answer `clusterIp` for the Service (nothing when empty). */
  public answer(clusterIp: string): void {
    writeFileSync(join(this.dir, 'cluster-ip'), clusterIp);
  }

  /** Runs the script once, answering `clusterIp` for the Service. */
  public run(clusterIp: string): { status: number | null; stderr: string } {
    this.answer(clusterIp);
    const result = spawnSync('sh', [this.script, '--once'], { encoding: 'utf-8', env: this.env() });
    return { status: result.status, stderr: result.stderr };
  }

  /** Starts the script's endless loop. */
  public start(): ChildProcess {
    return spawn('sh', [this.script], { env: this.env(), stdio: 'ignore' });
  }

  private env(): NodeJS.ProcessEnv {
    return { PATH: `${this.bin}:${process.env.PATH}`, HOST_ROOT: this.root, CA_FILE: this.caFile, TMPDIR: join(this.dir, 'tmp') };
  }

  public read(path: string): string {
    return readFileSync(join(this.root, path), 'utf-8');
  }

  public write(path: string, content: string): void {
    mkdirSync(join(this.root, path, '..'), { recursive: true });
    writeFileSync(join(this.root, path), content);
  }

  /** Every file under the root with its content. */
  public files(): Record<string, string> {
    const files: Record<string, string> = {};
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir).sort()) {
        const path = join(dir, entry);
        if (statSync(path).isDirectory()) {
          walk(path);
        } else {
          files[relative(this.root, path)] = readFileSync(path, 'utf-8');
        }
      }
    };
    walk(this.root);
    return files;
  }

  public remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `condition` every 100 ms until it holds; fails after `seconds`. */
async function eventually(condition: () => boolean, seconds: number): Promise<void> {
  for (let waited = 0; !condition(); waited += 100) {
    if (waited > seconds * 1000) {
      throw new Error(`condition not met within ${seconds} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const marked = (ip: string) => `${ip} ${HOST} # ${NODE_TRUST_MARKER}: ${HOST}`;

describe('renderNodeTrustScript', () => {
  let node: FakeNode;

  describe('in containerd mode', () => {
    beforeEach(() => {
      node = new FakeNode(NodeTrustMode.CONTAINERD);
    });
    afterEach(() => node.remove());

    test('writes containerd\'s host configuration and maps the host to the ClusterIP', () => {
      // WHEN
      const result = node.run('10.96.12.34');

      // THEN
      expect(result.status).toBe(0);
      expect(node.read(`etc/containerd/certs.d/${HOST}/ca.crt`)).toBe(CA);
      const hostsToml = parseToml(node.read(`etc/containerd/certs.d/${HOST}/hosts.toml`));
      expect(hostsToml).toEqual({
        server: `https://${HOST}`,
        host: {
          [`https://${HOST}`]: {
            capabilities: ['pull', 'resolve'],
            ca: `/etc/containerd/certs.d/${HOST}/ca.crt`,
          },
        },
      });
      expect(node.read('etc/hosts')).toBe(`${HOSTS_BEFORE}${marked('10.96.12.34')}\n`);
      expect(Object.keys(node.files()).sort()).toEqual([
        `etc/containerd/certs.d/${HOST}/ca.crt`,
        `etc/containerd/certs.d/${HOST}/hosts.toml`,
        'etc/hosts',
      ]);
    });

    test('changes nothing when run again', () => {
      // GIVEN
      node.run('10.96.12.34');
      const before = node.files();

      // WHEN
      const again = node.run('10.96.12.34');

      // THEN
      expect(again).toEqual({ status: 0, stderr: '' });
      expect(node.files()).toEqual(before);
    });

    test('updates only its own line when the ClusterIP changes', () => {
      // GIVEN
      node.run('10.96.12.34');
      const before = node.files();

      // WHEN
      const result = node.run('10.96.200.1');

      // THEN
      expect(result).toEqual({ status: 0, stderr: `node-trust: mapped ${HOST} to 10.96.200.1 in ${node.root}/etc/hosts\n` });
      expect(node.read('etc/hosts')).toBe(`${HOSTS_BEFORE}${marked('10.96.200.1')}\n`);
      expect(node.read('etc/hosts').split('\n').filter((line) => line.includes(NODE_TRUST_MARKER))).toHaveLength(2);
      const { 'etc/hosts': _hosts, ...runtimeAfter } = node.files();
      const { 'etc/hosts': _hostsBefore, ...runtimeBefore } = before;
      expect(runtimeAfter).toEqual(runtimeBefore);
    });

    test('maps an IPv6 ClusterIP', () => {
      expect(node.run('fd00:10:96::2a').status).toBe(0);
      expect(node.read('etc/hosts')).toBe(`${HOSTS_BEFORE}${marked('fd00:10:96::2a')}\n`);
    });

    test('leaves /etc/hosts as it is and fails the run when the Service does not resolve', () => {
      // GIVEN
      node.run('10.96.12.34');

      // WHEN
      const result = node.run('');

      // THEN
      expect(result).toEqual({ status: 1, stderr: `node-trust: could not resolve ${SERVICE}: /etc/hosts left as is\n` });
      expect(node.read('etc/hosts')).toBe(`${HOSTS_BEFORE}${marked('10.96.12.34')}\n`);
    });

    test('adds its line to a hosts file without a final newline', () => {
      node.write('etc/hosts', '127.0.0.1 localhost');
      node.run('10.96.12.34');
      expect(node.read('etc/hosts')).toBe(`127.0.0.1 localhost\n${marked('10.96.12.34')}\n`);
    });

    test('leaves no temporary file behind', () => {
      node.run('10.96.12.34');
      node.run('10.96.12.35');
      expect(readdirSync(join(node.dir, 'tmp'))).toEqual([]);
      expect(existsSync(join(node.root, `etc/containerd/certs.d/${HOST}/hosts.toml.node-trust-tmp`))).toBe(false);
    });
  });

  test('repeats every interval, picking up a new ClusterIP, and exits on SIGTERM', async () => {
    // GIVEN
    node = new FakeNode(NodeTrustMode.CONTAINERD, 1);
    node.answer('10.96.12.34');
    const child = node.start();
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await eventually(() => node.read('etc/hosts').includes(marked('10.96.12.34')), 10);

      // WHEN
      node.answer('10.96.200.1');

      // THEN
      await eventually(() => node.read('etc/hosts') === `${HOSTS_BEFORE}${marked('10.96.200.1')}\n`, 10);
    } finally {
      child.kill('SIGTERM');
    }
    try {
      expect(await exited).toBe(0);
    } finally {
      node.remove();
    }
  });

  describe('in k3s mode', () => {
    beforeEach(() => {
      node = new FakeNode(NodeTrustMode.K3S);
    });
    afterEach(() => node.remove());

    test('writes registries.yaml with the CA file, and the hosts line', () => {
      // WHEN
      const result = node.run('10.96.12.34');

      // THEN
      expect(result.status).toBe(0);
      const caFile = `/etc/rancher/k3s/trusted-registry/${HOST}/ca.crt`;
      expect(node.read(caFile.slice(1))).toBe(CA);
      expect(parseYaml(node.read('etc/rancher/k3s/registries.yaml'))).toEqual({ configs: { [HOST]: { tls: { ca_file: caFile } } } });
      expect(node.read('etc/hosts')).toBe(`${HOSTS_BEFORE}${marked('10.96.12.34')}\n`);
      const before = node.files();
      expect(node.run('10.96.12.34')).toEqual({ status: 0, stderr: '' });
      expect(node.files()).toEqual(before);
    });

    test('leaves a registries.yaml it did not write untouched', () => {
      // GIVEN
      const own = 'mirrors:\n  docker.io:\n    endpoint: ["https://mirror.example.com"]\n';
      node.write('etc/rancher/k3s/registries.yaml', own);

      // WHEN
      const result = node.run('10.96.12.34');

      // THEN
      expect(result.status).toBe(1);
      expect(result.stderr.split('\n')[0]).toBe(`node-trust: ${node.root}/etc/rancher/k3s/registries.yaml was not written by NodeTrust: left as is (add ${HOST} to it yourself)`);
      expect(node.read('etc/rancher/k3s/registries.yaml')).toBe(own);
      // The host mapping does not depend on it.
      expect(node.read('etc/hosts')).toBe(`${HOSTS_BEFORE}${marked('10.96.12.34')}\n`);
    });
  });

  test('is valid POSIX shell in both modes', () => {
    for (const mode of Object.values(NodeTrustMode)) {
      const script = renderNodeTrustScript({ registryHost: HOST, serviceDnsName: SERVICE, mode, intervalSeconds: 30 });
      expect(spawnSync('sh', ['-n'], { input: script, encoding: 'utf-8' }).status).toBe(0);
    }
  });

  test('fails if the interval is not a whole number of seconds from 1 to 86400', () => {
    expect(() => renderNodeTrustScript({ registryHost: HOST, serviceDnsName: SERVICE, mode: NodeTrustMode.CONTAINERD, intervalSeconds: 0 }))
      .toThrow(`'intervalSeconds' must be an integer from 1 to 86400, got 0`);
  });
});
