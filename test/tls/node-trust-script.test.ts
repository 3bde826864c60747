import { ChildProcess, spawn, spawnSync } from 'child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, relative } from 'path';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { NodeTrustMode } from '../../src';
import { NODE_TRUST_MARKER, renderNodeTrustScript, renderServiceResolverScript, validateServiceCidrs } from '../../src/tls/node-trust-script';
import { describeWithBinaries, which } from '../util/binaries';

const HOST = 'registry.example.com';
const CIDRS = ['10.96.0.0/12', 'fd00:10:96::/108'];
const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const HOSTS_BEFORE = [
  '127.0.0.1 localhost',
  '::1 localhost ip6-localhost',
  '# a comment the node owner wrote',
  '10.0.0.7 registry.example.com.au # managed by cdk8s-trusted-registry NodeTrust: registry.example.com.au',
  '192.168.1.20 build-server',
  '',
].join('\n');

/** The busybox applets the node-trust container uses, so that a run uses busybox's, as in the image. */
const BUSYBOX_APPLETS = ['awk', 'cat', 'cmp', 'grep', 'mkdir', 'mv', 'rm', 'sha256sum', 'sleep', 'stat'];

/** How a script is run: Debian's dash with its tools, or busybox sh with busybox's applets first on PATH. */
interface Shell {
  readonly name: string;
  readonly command: string[];
  readonly path: (dir: string) => string;
}

const DASH: Shell = { name: 'dash', command: ['sh'], path: () => process.env.PATH! };
const BUSYBOX: Shell = {
  name: 'busybox sh',
  command: ['busybox', 'sh'],
  path: (dir) => {
    const bin = join(dir, 'busybox-bin');
    if (!existsSync(bin)) {
      mkdirSync(bin);
      BUSYBOX_APPLETS.forEach((applet) => symlinkSync(which('busybox')!, join(bin, applet)));
    }
    return `${bin}:${process.env.PATH}`;
  },
};

/** A node's root in a temporary directory, the resolver's answer file, and the script. */
class FakeNode {
  public readonly dir = mkdtempSync(join(tmpdir(), 'node-trust-'));
  public readonly root = join(this.dir, 'root');
  public readonly script = join(this.dir, 'node-trust.sh');
  public readonly answerFile = join(this.dir, 'answer');
  private readonly caFile = join(this.dir, 'ca.crt');

  constructor(public readonly shell: Shell, mode: NodeTrustMode, intervalSeconds = 60, serviceCidrs = CIDRS) {
    mkdirSync(join(this.root, 'etc'), { recursive: true });
    mkdirSync(join(this.dir, 'tmp'));
    writeFileSync(join(this.root, 'etc', 'hosts'), HOSTS_BEFORE);
    writeFileSync(this.caFile, CA);
    writeFileSync(this.script, renderNodeTrustScript({ registryHost: HOST, serviceCidrs, mode, intervalSeconds }));
  }

  /** Writes the resolver's answer as is; `undefined` removes it (no answer from the API). */
  public answerRaw(answer: string | undefined): void {
    if (answer === undefined) {
      rmSync(this.answerFile, { force: true });
    } else {
      writeFileSync(this.answerFile, answer);
    }
  }

  /** Runs the script once, the resolver having read a ClusterIP Service with `clusterIp`. */
  public run(clusterIp: string): { status: number | null; stderr: string } {
    this.answerRaw(`ClusterIP ${clusterIp}\n`);
    return this.runOnce();
  }

  /** Runs the script once on the current answer. */
  public runOnce(): { status: number | null; stderr: string } {
    const result = spawnSync(this.shell.command[0], [...this.shell.command.slice(1), this.script, '--once'], { encoding: 'utf-8', env: this.env() });
    return { status: result.status, stderr: result.stderr };
  }

  /** Starts the script's endless loop. */
  public start(): ChildProcess {
    return spawn(this.shell.command[0], [...this.shell.command.slice(1), this.script], { env: this.env(), stdio: 'ignore' });
  }

  public env(root = this.root): NodeJS.ProcessEnv {
    return { PATH: this.shell.path(this.dir), HOST_ROOT: root, CA_FILE: this.caFile, ANSWER_FILE: this.answerFile, TMPDIR: join(this.dir, 'tmp') };
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

describeWithBinaries('renderNodeTrustScript', ['busybox'], () => {
  describe.each([DASH, BUSYBOX].map((shell) => [shell.name, shell] as const))('under %s', (_name, shell) => {
    let node: FakeNode;

    describe('in containerd mode', () => {
      beforeEach(() => {
        node = new FakeNode(shell, NodeTrustMode.CONTAINERD);
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
        expect(result).toEqual({ status: 0, stderr: `node-trust: wrote ${node.root}/etc/hosts\n` });
        expect(node.read('etc/hosts')).toBe(`${HOSTS_BEFORE}${marked('10.96.200.1')}\n`);
        expect(node.read('etc/hosts').split('\n').filter((line) => line.includes(NODE_TRUST_MARKER))).toHaveLength(2);
        const { 'etc/hosts': _hosts, ...runtimeAfter } = node.files();
        const { 'etc/hosts': _hostsBefore, ...runtimeBefore } = before;
        expect(runtimeAfter).toEqual(runtimeBefore);
      });

      test('maps an IPv6 ClusterIP of the IPv6 Service range', () => {
        expect(node.run('fd00:10:96::2a').status).toBe(0);
        expect(node.read('etc/hosts')).toBe(`${HOSTS_BEFORE}${marked('fd00:10:96::2a')}\n`);
      });

      test.each<[string, string | undefined, string]>([
        ['an ExternalName Service (its DNS name is never followed)', 'ExternalName \n', 'refused: the Service is of type "ExternalName", not ClusterIP'],
        ['a NodePort Service (the chart makes ClusterIP only)', 'NodePort 10.96.12.35\n', 'refused: the Service is of type "NodePort", not ClusterIP'],
        ['a headless Service', 'ClusterIP None\n', 'refused: not an IP address: "None"'],
        ['a host name instead of an address', 'ClusterIP evil.example.com\n', 'refused: not an IP address: "evil.example.com"'],
        ['an IPv4 address outside the Service range', 'ClusterIP 192.168.1.66\n', 'refused: 192.168.1.66 is outside the Service range 10.96.0.0/12 fd00:10:96::/108'],
        ['an address just past the range', 'ClusterIP 10.112.0.1\n', 'refused: 10.112.0.1 is outside the Service range 10.96.0.0/12 fd00:10:96::/108'],
        ['an IPv6 address outside the Service range', 'ClusterIP fd00:10:97::1\n', 'refused: fd00:10:97::1 is outside the Service range 10.96.0.0/12 fd00:10:96::/108'],
        ['an IPv4-mapped IPv6 address', 'ClusterIP ::ffff:10.96.0.1\n', 'refused: not an IP address: "::ffff:10.96.0.1"'],
        ['an octet above 255', 'ClusterIP 10.96.0.256\n', 'refused: not an IP address: "10.96.0.256"'],
        ['a leading zero (octal to some parsers)', 'ClusterIP 010.96.0.1\n', 'refused: not an IP address: "010.96.0.1"'],
        ['two "::"', 'ClusterIP fd00::10::1\n', 'refused: not an IP address: "fd00::10::1"'],
        ['a second word (injection)', 'ClusterIP 10.96.0.1 evil.example.com\n', 'refused: not "ClusterIP <address>": "ClusterIP 10.96.0.1 evil.example.com"'],
        ['a second line', 'ClusterIP 10.96.0.1\nClusterIP 10.96.0.2\n', 'refused: expected one line "<type> <ClusterIP>", got 2 lines'],
        ['control characters, shown escaped', 'ClusterIP 10.96.0.1\u001b[2J\n', 'refused: not an IP address: "10.96.0.1?[2J"'],
        ['garbage JSON passed on', '{"spec":{"clusterIP":"10.96.0.1"}}\n', 'refused: the Service is of type "{"spec":{"clusterIP":"10.96.0.1"}}", not ClusterIP'],
        ['an empty answer', '', 'refused: expected one line "<type> <ClusterIP>", got 0 lines'],
        ['no answer at all (the API read failed)', undefined, 'no answer from the API yet (see the resolve container\'s log)'],
      ])('leaves /etc/hosts as it is and fails the run for %s', (_, answer, reason) => {
        // GIVEN
        node.run('10.96.12.34');

        // WHEN
        node.answerRaw(answer);
        const result = node.runOnce();

        // THEN
        expect(result).toEqual({ status: 1, stderr: `node-trust: ${reason}\nnode-trust: /etc/hosts left as is\n` });
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
      node = new FakeNode(shell, NodeTrustMode.CONTAINERD, 1);
      node.answerRaw('ClusterIP 10.96.12.34\n');
      const child = node.start();
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      try {
        await eventually(() => node.read('etc/hosts').includes(marked('10.96.12.34')), 10);

        // WHEN
        node.answerRaw('ClusterIP 10.96.200.1\n');

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
        node = new FakeNode(shell, NodeTrustMode.K3S, 60, ['10.43.0.0/16']);
      });
      afterEach(() => node.remove());

      test('writes registries.yaml (in place) with the CA file, and the hosts line', () => {
        // GIVEN the empty file the kubelet creates for the mount
        node.write('etc/rancher/k3s/registries.yaml', '');

        // WHEN
        const result = node.run('10.43.12.34');

        // THEN
        expect(result.status).toBe(0);
        const caFile = `/etc/rancher/k3s/trusted-registry/${HOST}/ca.crt`;
        expect(node.read(caFile.slice(1))).toBe(CA);
        expect(parseYaml(node.read('etc/rancher/k3s/registries.yaml'))).toEqual({ configs: { [HOST]: { tls: { ca_file: caFile } } } });
        expect(node.read('etc/hosts')).toBe(`${HOSTS_BEFORE}${marked('10.43.12.34')}\n`);
        const before = node.files();
        expect(node.run('10.43.12.34')).toEqual({ status: 0, stderr: '' });
        expect(node.files()).toEqual(before);
      });

      test('refuses a ClusterIP outside k3s\' Service range', () => {
        const result = node.run('10.96.12.34');
        expect(result.status).toBe(1);
        expect(result.stderr).toContain('node-trust: refused: 10.96.12.34 is outside the Service range 10.43.0.0/16\nnode-trust: /etc/hosts left as is\n');
        expect(node.read('etc/hosts')).toBe(HOSTS_BEFORE);
      });

      test('leaves a registries.yaml it did not write untouched', () => {
        // GIVEN
        const own = 'mirrors:\n  docker.io:\n    endpoint: ["https://mirror.example.com"]\n';
        node.write('etc/rancher/k3s/registries.yaml', own);

        // WHEN
        const result = node.run('10.43.12.34');

        // THEN
        expect(result.status).toBe(1);
        expect(result.stderr.split('\n')[0]).toBe(`node-trust: ${node.root}/etc/rancher/k3s/registries.yaml was not written by NodeTrust: left as is (add ${HOST} to it yourself)`);
        expect(node.read('etc/rancher/k3s/registries.yaml')).toBe(own);
        // The host mapping does not depend on it.
        expect(node.read('etc/hosts')).toBe(`${HOSTS_BEFORE}${marked('10.43.12.34')}\n`);
      });
    });

    test('is valid POSIX shell in both modes', () => {
      for (const mode of Object.values(NodeTrustMode)) {
        const script = renderNodeTrustScript({ registryHost: HOST, serviceCidrs: CIDRS, mode, intervalSeconds: 30 });
        expect(spawnSync(shell.command[0], [...shell.command.slice(1), '-n'], { input: script, encoding: 'utf-8' }).status).toBe(0);
      }
    });
  });
});

/**
 * Runs the script as the pod does: in a mount namespace where the node's /etc/hosts (and, in k3s
 * mode, registries.yaml) is bind-mounted alone into the container's view, the certs.d/<host>
 * directory likewise, with no capability at all (bounding, inheritable and ambient sets emptied,
 * no_new_privs as allowPrivilegeEscalation: false sets it).
 */
describeWithBinaries('renderNodeTrustScript in a pod-like mount namespace without capabilities', ['busybox', 'unshare', 'setpriv'], () => {
  let node: FakeNode;
  let containerRoot: string;
  beforeEach(() => {
    node = new FakeNode(BUSYBOX, NodeTrustMode.CONTAINERD);
    containerRoot = join(node.dir, 'container');
    mkdirSync(join(containerRoot, 'etc', 'containerd', 'certs.d', HOST), { recursive: true });
    mkdirSync(join(node.root, 'etc', 'containerd', 'certs.d', HOST), { recursive: true });
    writeFileSync(join(containerRoot, 'etc', 'hosts'), '');
  });
  afterEach(() => node.remove());

  /** Mounts like the DaemonSet, runs `before` as the node (with capabilities), then `command` without any. */
  function inPod(command: string, before = ''): { status: number | null; stdout: string; stderr: string } {
    const mounts = [
      [join(node.root, 'etc', 'hosts'), join(containerRoot, 'etc', 'hosts')],
      [join(node.root, 'etc', 'containerd', 'certs.d', HOST), join(containerRoot, 'etc', 'containerd', 'certs.d', HOST)],
    ].map(([from, to]) => `mount --bind '${from}' '${to}'`).join(' && ');
    const dropAll = 'setpriv --bounding-set=-all --inh-caps=-all --ambient-caps=-all --no-new-privs';
    const result = spawnSync('unshare', [...(process.getuid!() === 0 ? [] : ['--map-root-user']), '--mount', 'sh', '-c',
      `${mounts} || exit 99\n${before}\nexec ${dropAll} sh -c "$0"`, command], { encoding: 'utf-8', env: node.env(containerRoot) });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  test('writes the node\'s files through single-file and directory mounts with no capability', () => {
    // GIVEN
    node.answerRaw('ClusterIP 10.96.12.34\n');

    // WHEN
    const result = inPod(`grep CapEff /proc/self/status && exec busybox sh '${node.script}' --once`);

    // THEN
    expect(result.stdout).toBe('CapEff:\t0000000000000000\n');
    expect(result.status).toBe(0);
    expect(node.read('etc/hosts')).toBe(`${HOSTS_BEFORE}${marked('10.96.12.34')}\n`);
    expect(node.read(`etc/containerd/certs.d/${HOST}/ca.crt`)).toBe(CA);
    expect(node.read(`etc/containerd/certs.d/${HOST}/hosts.toml`)).toContain(`server = "https://${HOST}"`);
  });

  test('a rename over the single-file /etc/hosts mount fails, which is why the script writes it in place', () => {
    const hostsInPod = join(containerRoot, 'etc', 'hosts');
    const result = inPod(`echo x > '${node.dir}/tmp/new' && mv -f '${node.dir}/tmp/new' '${hostsInPod}'`);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/busy/i);
  });

  test('exits with status 3 when the node replaced /etc/hosts after the container started, without writing the stale file', () => {
    // GIVEN the node rewrites /etc/hosts by rename (as sed -i does) after the mount
    node.answerRaw('ClusterIP 10.96.12.34\n');
    const replacement = join(node.root, 'etc', 'hosts.sed');
    writeFileSync(replacement, '127.0.0.1 localhost\n');

    // WHEN
    const result = inPod(`exec busybox sh '${node.script}' --once`, `mv -f '${replacement}' '${join(node.root, 'etc', 'hosts')}'`);

    // THEN
    expect(result.status).toBe(3);
    expect(result.stderr).toContain(`node-trust: ${containerRoot}/etc/hosts was replaced on the node after this container started: exiting so that the container restarts with the current file\n`);
    expect(node.read('etc/hosts')).toBe('127.0.0.1 localhost\n');
    // A new container sees the new file and maps the host in it.
    expect(inPod(`exec busybox sh '${node.script}' --once`).status).toBe(0);
    expect(node.read('etc/hosts')).toBe(`127.0.0.1 localhost\n${marked('10.96.12.34')}\n`);
  });
});

/** A kubectl on PATH that answers `get service` from a JSON file, evaluated by the real kubectl. */
class FakeApi {
  public readonly dir = mkdtempSync(join(tmpdir(), 'node-trust-api-'));
  public readonly answerFile = join(this.dir, 'answer');
  private readonly serviceFile = join(this.dir, 'service.json');
  private readonly script = join(this.dir, 'resolve-service.sh');

  constructor() {
    mkdirSync(join(this.dir, 'bin'));
    writeFileSync(join(this.dir, 'bin', 'kubectl'), [
      '#!/bin/sh',
      `printf '%s\\n' "$*" >> '${join(this.dir, 'calls')}'`,
      `[ -f '${this.serviceFile}' ] || { echo 'Error from server (NotFound): services "registry" not found' >&2; exit 1; }`,
      // The last argument is the output format the script asked for.
      'for output; do :; done',
      `KUBECONFIG=/dev/null exec '${which('kubectl')}' annotate --local -f '${this.serviceFile}' no-such-annotation- --output "$output"`,
      '',
    ].join('\n'));
    chmodSync(join(this.dir, 'bin', 'kubectl'), 0o755);
    writeFileSync(this.script, renderServiceResolverScript({ serviceName: 'registry', serviceNamespace: 'images', intervalSeconds: 60 }));
  }

  /** What the API answers for the Service: an object, raw text, or nothing (NotFound). */
  public serve(service: object | string | undefined): void {
    if (service === undefined) {
      rmSync(this.serviceFile, { force: true });
    } else {
      writeFileSync(this.serviceFile, typeof service === 'string' ? service : JSON.stringify(service));
    }
  }

  public resolve(): { status: number | null; stderr: string; answer: string | undefined } {
    const result = spawnSync('sh', [this.script, '--once'], {
      encoding: 'utf-8',
      env: { PATH: `${join(this.dir, 'bin')}:${process.env.PATH}`, ANSWER_FILE: this.answerFile },
    });
    return { status: result.status, stderr: result.stderr, answer: existsSync(this.answerFile) ? readFileSync(this.answerFile, 'utf-8') : undefined };
  }

  public calls(): string[] {
    return readFileSync(join(this.dir, 'calls'), 'utf-8').split('\n').filter(Boolean);
  }

  public remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const service = (spec: object, metadata: object = {}) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'registry', namespace: 'images', ...metadata }, spec });

describeWithBinaries('renderServiceResolverScript', ['kubectl', 'busybox'], () => {
  let api: FakeApi;
  beforeEach(() => {
    api = new FakeApi();
  });
  afterEach(() => api.remove());

  test('reads the Service by name from the API, never from DNS, and writes its type and ClusterIP', () => {
    // GIVEN
    api.serve(service({ type: 'ClusterIP', clusterIP: '10.96.12.34', ports: [{ port: 443 }] }));

    // WHEN
    const result = api.resolve();

    // THEN
    expect(result).toEqual({ status: 0, stderr: '', answer: 'ClusterIP 10.96.12.34\n' });
    // No client-configuration flag (such as --request-timeout): with one, kubectl ignores the
    // in-cluster configuration and dials localhost:8080 (kubernetes/kubernetes#93474).
    expect(api.calls()).toEqual(['get service registry --namespace images --output jsonpath={.spec.type} {.spec.clusterIP}']);
    expect(readFileSync(join(api.dir, 'resolve-service.sh'), 'utf-8')).not.toMatch(/nslookup|getent|dig |host /);
  });

  test('an annotation that looks like a ClusterIP does not fool it (kubectl parses the JSON)', () => {
    api.serve(service({ type: 'ClusterIP', clusterIP: '10.96.12.34' }, { annotations: { clusterIP: '6.6.6.6', x: '"clusterIP":"6.6.6.6"' } }));
    expect(api.resolve().answer).toBe('ClusterIP 10.96.12.34\n');
  });

  test.each<[string, object | string | undefined]>([
    ['the Service is missing', undefined],
    ['the API answers garbage JSON', '{"apiVersion":"v1","kind":"Service",garbage'],
  ])('removes the answer when %s', (_, answer) => {
    // GIVEN a previous answer
    api.serve(service({ type: 'ClusterIP', clusterIP: '10.96.12.34' }));
    api.resolve();

    // WHEN
    api.serve(answer);
    const result = api.resolve();

    // THEN
    expect(result.status).toBe(1);
    expect(result.answer).toBeUndefined();
    expect(result.stderr).toContain('resolve: could not read Service images/registry from the API; answer removed\n');
  });

  describe('with node-trust.sh behind it, the hostile answers of a changed Service are refused', () => {
    let node: FakeNode;
    beforeEach(() => {
      node = new FakeNode(BUSYBOX, NodeTrustMode.CONTAINERD);
    });
    afterEach(() => node.remove());

    /** The resolver reads `spec`, then node-trust runs on its answer. */
    function pipeline(spec: object): { status: number | null; stderr: string } {
      api.serve(service(spec));
      api.resolve();
      node.answerRaw(existsSync(api.answerFile) ? readFileSync(api.answerFile, 'utf-8') : undefined);
      return node.runOnce();
    }

    test.each<[string, object, string]>([
      ['changed to ExternalName (a CNAME to anywhere)', { type: 'ExternalName', externalName: 'evil.example.com' }, 'refused: the Service is of type "ExternalName", not ClusterIP'],
      ['given a ClusterIP outside the Service range', { type: 'ClusterIP', clusterIP: '192.168.66.6' }, 'refused: 192.168.66.6 is outside the Service range'],
      ['given a clusterIP that is not an IP', { type: 'ClusterIP', clusterIP: 'evil.example.com' }, 'refused: not an IP address: "evil.example.com"'],
      ['given a multi-line clusterIP', { type: 'ClusterIP', clusterIP: '10.96.0.1\nClusterIP 10.96.0.2' }, 'refused: expected one line "<type> <ClusterIP>", got 2 lines'],
    ])('when the Service is %s', (_, spec, reason) => {
      // GIVEN a mapping made from the genuine Service
      expect(pipeline({ type: 'ClusterIP', clusterIP: '10.96.12.34' }).status).toBe(0);

      // WHEN
      const result = pipeline(spec);

      // THEN
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`node-trust: ${reason}`);
      expect(node.read('etc/hosts')).toBe(`${HOSTS_BEFORE}${marked('10.96.12.34')}\n`);
    });
  });
});

describe('the scripts\' inputs', () => {
  test.each<[string[], string]>([
    [[], `'serviceCidrs' must list the cluster's Service IP range, one CIDR per IP family (one or two), got []`],
    [['0.0.0.0/0'], `'serviceCidrs' must be no wider than /8: a wider range would accept addresses that are not ClusterIPs, got "0.0.0.0/0"`],
    [['::/0'], `'serviceCidrs' must be no wider than /64: a wider range would accept addresses that are not ClusterIPs, got "::/0"`],
    [['10.96.0.1/12'], `'serviceCidrs' must be a network address (no bits set after the prefix), e.g. "10.96.0.0/12", got "10.96.0.1/12"`],
    [['10.96.0.0'], `'serviceCidrs' must be CIDRs like "10.0.0.0/16", got "10.96.0.0" (for a single address use "10.96.0.0/32")`],
    [['10.96.0.0/12', '10.43.0.0/16'], `'serviceCidrs' must list at most one CIDR per IP family (the Service range of a dual-stack cluster), got ["10.96.0.0/12","10.43.0.0/16"]`],
    [['not-a-cidr'], `'serviceCidrs' must be CIDRs like "10.0.0.0/16", got "not-a-cidr"`],
  ])('fails if the Service range is %j', (cidrs, message) => {
    expect(() => validateServiceCidrs('serviceCidrs', cidrs)).toThrow(message);
  });

  test('accepts a dual-stack range', () => {
    expect(validateServiceCidrs('serviceCidrs', ['10.96.0.0/12', 'fd00:10:96::/108'])).toEqual(['10.96.0.0/12', 'fd00:10:96::/108']);
  });

  test('fails if the interval is not a whole number of seconds from 1 to 86400', () => {
    expect(() => renderNodeTrustScript({ registryHost: HOST, serviceCidrs: CIDRS, mode: NodeTrustMode.CONTAINERD, intervalSeconds: 0 }))
      .toThrow(`'intervalSeconds' must be an integer from 1 to 86400, got 0`);
  });

  test('fails if the mode is unknown (from JavaScript)', () => {
    expect(() => renderNodeTrustScript({ registryHost: HOST, serviceCidrs: CIDRS, mode: 'docker' as NodeTrustMode, intervalSeconds: 60 }))
      .toThrow(`'mode' must be one of "containerd", "k3s", got "docker"`);
  });
});
