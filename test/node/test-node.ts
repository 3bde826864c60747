import { ChildProcess, spawn, spawnSync } from 'child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { run, runChecked } from '../e2e/exec';
import { LocalImage } from './local-image';

const COMMAND_TIMEOUT_MS = 60_000;
const START_TIMEOUT_MS = 180_000;
const TEARDOWN_SCRIPT = join(__dirname, 'node-teardown.sh');
const RELAY_SCRIPT = join(__dirname, 'relay.js');


/**
 * Addresses of the node's network namespace, all from the documentation ranges (RFC 5737), so
 * none can clash with a real network; the namespace has no route to anywhere else.
 */
export const NODE_NETWORK = {
  /** The node's InternalIP, on a dummy interface. */
  nodeIp: '192.0.2.2',
  /** Pod addresses, on the node's bridge (the bridge itself takes .1). */
  podCidr: '198.51.100.0/24',
} as const;

/** The control plane a node joins. */
export interface NodeControlPlane {
  /** `https://127.0.0.1:<port>`: the API server, on this machine's loopback. */
  readonly server: string;
  readonly caFile: string;
  /** The cluster CA's key: signs the kubelet's and the scheduler's client certificates. */
  readonly caKeyFile: string;
}

/** What `TestNode.start()` needs. */
export interface TestNodeOptions {
  readonly controlPlane: NodeControlPlane;
  /** Where kubelet and kube-scheduler are (`scripts/build-kube.sh <version> kube-scheduler kubelet`). */
  readonly kubeBinDir: string;
  /** A fresh directory the node owns; removed by `stop()` unless kept. */
  readonly workDir: string;
  readonly keepWorkDir?: boolean;
  /** The pod sandbox image (no registry is reachable, so it must be imported). */
  readonly sandboxImage: LocalImage;
  /** Images imported into containerd before the kubelet starts. */
  readonly images: readonly LocalImage[];
  /** @default 'trnode' */
  readonly nodeName?: string;
}

interface Component {
  readonly name: string;
  readonly process: ChildProcess;
  readonly logFile: string;
}

/**
 * One Kubernetes node on this machine: containerd and a kubelet, plus kube-scheduler for the
 * control plane, all started by PID and stopped by `stop()`.
 *
 * Isolation: containerd, the kubelet and every pod live in a network namespace of their own
 * (`trnode-<pid>`: a veth interface with the node IP, a CNI bridge for pods, no route out) and
 * in a private mount namespace where `/run` is a fresh tmpfs and `/etc/hosts` and
 * `/etc/containerd` are files of the work directory, so that what pods write to "the node"
 * (NodeTrust's hosts entry and `certs.d`) stays in the test. The API server stays on this
 * machine's loopback; a relay carries the node's connections to it through a Unix socket, and
 * relays stand in for kube-proxy for the ClusterIPs the test routes (`routeService()`).
 */
export class TestNode {
  public static async start(options: TestNodeOptions): Promise<TestNode> {
    const node = new TestNode(options);
    try {
      await node.boot();
    } catch (error) {
      const logs = node.logTails(40);
      node.stop();
      throw new Error(`test node did not start: ${(error as Error).message}\n${logs}`);
    }
    return node;
  }

  public readonly name: string;
  public readonly workDir: string;
  /** containerd's socket, for `ctr --address`. */
  public readonly containerdSocket: string;
  /** The hosts file the node's processes see as /etc/hosts. */
  public readonly hostsFile: string;
  /** The directory the node's processes see as /etc/containerd. */
  public readonly containerdConfigDir: string;
  private readonly netns: string;
  private readonly cgroupRoot: string;
  private readonly components: Component[] = [];
  private holder?: ChildProcess;
  private watchdog?: ChildProcess;
  private stopped = false;

  private constructor(private readonly options: TestNodeOptions) {
    this.name = options.nodeName ?? 'trnode';
    this.workDir = options.workDir;
    this.netns = `trnode-${process.pid}`;
    this.cgroupRoot = `/trnode-${process.pid}`;
    this.containerdSocket = join(this.workDir, 'containerd', 'containerd.sock');
    this.hostsFile = join(this.workDir, 'etc', 'hosts');
    this.containerdConfigDir = join(this.workDir, 'etc', 'containerd');
  }

  /** Runs a command in the node's namespaces (as containerd and the kubelet see the machine). */
  public exec(command: string, args: readonly string[], timeoutMs = COMMAND_TIMEOUT_MS) {
    return run('nsenter', ['--target', String(this.holderPid), '--mount', '--net', '--', command, ...args], { timeoutMs });
  }

  /** `ctr -n k8s.io` against the node's containerd. */
  public ctr(args: readonly string[], timeoutMs = COMMAND_TIMEOUT_MS) {
    return this.exec('ctr', ['--address', this.containerdSocket, '--namespace', 'k8s.io', ...args], timeoutMs);
  }

  /** Image references in containerd's store. */
  public async imageReferences(): Promise<string[]> {
    const listed = await this.ctr(['images', 'list', '--quiet']);
    if (listed.code !== 0) throw new Error(`ctr images list: ${listed.stderr}`);
    return listed.stdout.split('\n').filter(Boolean);
  }

  /**
   * Makes `clusterIp:port` reachable in the node's namespace (from the node and from pods), relayed
   * to `target` (`<ip>:<port>`), as kube-proxy would. Call again to change the target.
   */
  public async routeService(clusterIp: string, port: number, target: string): Promise<void> {
    const targetFile = join(this.workDir, 'routes', `${clusterIp}-${port}`);
    const existed = existsSync(targetFile);
    writeFileSync(targetFile, `tcp:${target}\n`);
    if (existed) return;
    await this.addServiceAddress(clusterIp);
    await this.startRelay(`relay-${clusterIp}-${port}`, [`tcp:${clusterIp}:${port}`, `file:${targetFile}`], true);
  }

  /** The last lines of every component's log (kubelet, containerd, ...). */
  public logTails(lines: number): string {
    return this.components.map((c) => `--- ${c.name} (${c.logFile}), last ${lines} lines:\n${tail(c.logFile, lines)}`).join('\n');
  }

  /** Kills every process of the node by PID and removes its namespaces, cgroups and (unless kept) files. */
  public stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.watchdog?.pid) {
      try {
        process.kill(this.watchdog.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    const result = spawnSync('sh', [TEARDOWN_SCRIPT, ...this.teardownArgs()], { encoding: 'utf-8', timeout: 60_000 });
    if (result.stderr) process.stderr.write(result.stderr);
  }

  private get holderPid(): number {
    if (!this.holder?.pid) throw new Error('node namespaces not created');
    return this.holder.pid;
  }

  private teardownArgs(): string[] {
    const outside = this.components.filter((c) => !c.name.startsWith('node:')).map((c) => String(c.process.pid));
    return [this.netns, this.cgroupRoot, this.workDir, this.options.keepWorkDir ? '1' : '0', ...outside];
  }

  private async boot(): Promise<void> {
    const dirs = ['pki', 'etc/containerd/certs.d', 'containerd', 'cni/net.d', 'cni/ipam', 'kubelet', 'pod-logs', 'routes', 'images'];
    dirs.forEach((dir) => mkdirSync(join(this.workDir, dir), { recursive: true }));
    this.startWatchdog();

    const pki = await this.issueCertificates();
    await this.createNamespaces();
    this.writeConfiguration(pki);

    // The node's connections to the API server: 127.0.0.1:<port> in the node's namespace (for the
    // kubelet) → a Unix socket → the API server on this machine's 127.0.0.1:<port>.
    const apiServer = new URL(this.options.controlPlane.server);
    const apiSocket = join(this.workDir, 'apiserver.sock');
    await this.startRelay('relay-apiserver-host', [`unix:${apiSocket}`, `tcp:${apiServer.hostname}:${apiServer.port}`], false);
    await this.startRelay('relay-apiserver-node', [`tcp:127.0.0.1:${apiServer.port}`, `unix:${apiSocket}`], true);

    this.spawnComponent('containerd', 'containerd', ['--config', join(this.workDir, 'containerd', 'config.toml')], true);
    await this.waitFor('containerd', async () => (await this.ctr(['version'], 10_000)).code === 0);
    for (const image of [this.options.sandboxImage, ...this.options.images]) {
      await this.importImage(image);
    }

    this.spawnComponent('kube-scheduler', join(this.options.kubeBinDir, 'kube-scheduler'), [
      '--kubeconfig', pki.schedulerKubeconfig,
      '--authentication-kubeconfig', pki.schedulerKubeconfig,
      '--authorization-kubeconfig', pki.schedulerKubeconfig,
      '--bind-address', '127.0.0.1',
      '--secure-port', '0',
      '--leader-elect=false',
    ], false);

    this.spawnComponent('kubelet', join(this.options.kubeBinDir, 'kubelet'), [
      '--config', join(this.workDir, 'kubelet', 'config.yaml'),
      '--kubeconfig', pki.kubeletKubeconfig,
      '--root-dir', join(this.workDir, 'kubelet', 'root'),
      '--hostname-override', this.name,
      '--node-ip', NODE_NETWORK.nodeIp,
      '--v', '2',
    ], true);
  }

  /** Imports an OCI archive into containerd's k8s.io namespace, where the kubelet finds it. */
  private async importImage(image: LocalImage): Promise<void> {
    const imported = await this.ctr(['images', 'import', '--no-unpack=false', image.archive], 120_000);
    if (imported.code !== 0) throw new Error(`importing ${image.reference}: ${imported.stderr}`);
    const references = await this.imageReferences();
    if (!references.includes(image.reference)) {
      throw new Error(`after importing ${image.archive}, containerd lists ${references.join(', ')} but not ${image.reference}`);
    }
  }

  /** Client certificates (signed by the cluster CA) and kubeconfigs for the kubelet and the scheduler. */
  private async issueCertificates(): Promise<{ kubeletKubeconfig: string; schedulerKubeconfig: string; caFile: string }> {
    const dir = join(this.workDir, 'pki');
    const { caFile, caKeyFile, server } = this.options.controlPlane;
    const issue = async (name: string, subject: string) => {
      const openssl = (args: string[]) => runChecked('openssl', args, { timeoutMs: COMMAND_TIMEOUT_MS });
      await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.csr`), '-subj', subject]);
      writeFileSync(join(dir, `${name}.ext`), 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nbasicConstraints=critical,CA:FALSE\n');
      await openssl(['x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', caFile, '-CAkey', caKeyFile, '-CAcreateserial',
        '-CAserial', join(dir, 'ca.srl'), '-days', '2', '-extfile', join(dir, `${name}.ext`), '-out', join(dir, `${name}.crt`)]);
      const kubeconfig = join(dir, `${name}.kubeconfig`);
      writeFileSync(kubeconfig, JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: { 'server': server, 'certificate-authority': caFile } }],
        users: [{ name, user: { 'client-certificate': join(dir, `${name}.crt`), 'client-key': join(dir, `${name}.key`) } }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: name } }],
        'current-context': 'test',
      }, null, 2));
      return kubeconfig;
    };
    // The identities the Node authorizer and the default RBAC roles know.
    const kubeletKubeconfig = await issue('kubelet', `/O=system:nodes/CN=system:node:${this.name}`);
    const schedulerKubeconfig = await issue('scheduler', '/CN=system:kube-scheduler');
    return { kubeletKubeconfig, schedulerKubeconfig, caFile };
  }

  /**
   * The network namespace (lo, the node IP on a veth interface; the CNI bridge comes with the
   * first pod) and a process holding a private mount namespace inside it, which every node
   * process joins with nsenter.
   */
  private async createNamespaces(): Promise<void> {
    const ip = (args: string[]) => runChecked('ip', args, { timeoutMs: COMMAND_TIMEOUT_MS });
    await ip(['netns', 'add', this.netns]);
    await ip(['-n', this.netns, 'link', 'set', 'lo', 'up']);
    // A veth pair with both ends inside (this kernel has no dummy interfaces): an up interface with carrier.
    await ip(['-n', this.netns, 'link', 'add', 'node0', 'type', 'veth', 'peer', 'name', 'node0-peer']);
    await ip(['-n', this.netns, 'addr', 'add', `${NODE_NETWORK.nodeIp}/32`, 'dev', 'node0']);
    await ip(['-n', this.netns, 'link', 'set', 'node0-peer', 'up']);
    await ip(['-n', this.netns, 'link', 'set', 'node0', 'up']);
    for (const controller of cgroupControllers()) mkdirSync(join('/sys/fs/cgroup', controller, this.cgroupRoot), { recursive: true });

    if (!existsSync('/etc/containerd')) throw new Error('/etc/containerd does not exist (it is the mount point of the node\'s own; install the containerd package)');
    writeFileSync(this.hostsFile, `127.0.0.1 localhost\n${NODE_NETWORK.nodeIp} ${this.name}\n`);
    const setup = [
      'set -e',
      // Pod network namespaces, shim sockets and CNI state under /run stay in the test.
      'mount -t tmpfs -o mode=755 tmpfs /run',
      `mount --bind '${this.hostsFile}' /etc/hosts`,
      `mount --bind '${this.containerdConfigDir}' /etc/containerd`,
      // The kubelet wants its root directory on a shared mount (mount propagation to pods);
      // shared within this namespace only, whose mounts never reach the machine's.
      'mount --make-rshared /',
      'echo ready',
      'exec sleep infinity',
    ].join('\n');
    const logFile = join(this.workDir, 'holder.log');
    const holder = spawn('nsenter', [`--net=/run/netns/${this.netns}`, '--', 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', setup], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.holder = holder;
    this.components.push({ name: 'node:holder', process: holder, logFile });
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`the node's mount namespace was not ready in 30 s: ${output}`)), 30_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      holder.stdout!.on('data', onData);
      holder.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      holder.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the node's namespace holder exited with ${code}: ${output}`));
      });
    });
  }

  private async addServiceAddress(address: string): Promise<void> {
    const added = await run('ip', ['-n', this.netns, 'addr', 'add', `${address}/32`, 'dev', 'lo'], { timeoutMs: COMMAND_TIMEOUT_MS });
    if (added.code !== 0 && !/File exists/.test(added.stderr)) throw new Error(`ip addr add ${address}: ${added.stderr}`);
  }

  private writeConfiguration(pki: { caFile: string }): void {
    const w = this.workDir;
    writeFileSync(join(w, 'containerd', 'config.toml'), `version = 2
root = "${w}/containerd/root"
state = "${w}/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "${this.containerdSocket}"

[ttrpc]
  address = "${this.containerdSocket}.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${this.options.sandboxImage.reference}"
  # The machine lacks CAP_SYS_RESOURCE: the kubelet's negative oom_score_adj values (sandboxes,
  # Guaranteed pods) are raised to containerd's own (0) instead of failing every sandbox.
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${w}/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    # What NodeTrust's containerd mode expects (see the README): per-host configuration, read on every pull.
    config_path = "/etc/containerd/certs.d"
`);
    writeFileSync(join(w, 'cni', 'net.d', '10-trnode.conflist'), JSON.stringify({
      cniVersion: '1.0.0',
      name: 'trnode',
      plugins: [{
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: NODE_NETWORK.podCidr }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: join(w, 'cni', 'ipam') },
      }],
    }, null, 2));
    writeFileSync(join(w, 'resolv.conf'), '# no DNS server: nothing in the chain resolves names through DNS\n');
    writeFileSync(join(w, 'kubelet', 'config.yaml'), JSON.stringify({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: pki.caFile } },
      authorization: { mode: 'Webhook' },
      address: NODE_NETWORK.nodeIp,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      containerRuntimeEndpoint: `unix://${this.containerdSocket}`,
      // cgroup v1 with the cgroupfs driver, as on this machine; pods' cgroups under a root of their own.
      cgroupDriver: 'cgroupfs',
      failCgroupV1: false,
      cgroupRoot: this.cgroupRoot,
      failSwapOn: false,
      resolvConf: join(w, 'resolv.conf'),
      podLogsDir: join(w, 'pod-logs'),
      podCIDR: NODE_NETWORK.podCidr,
      maxPods: 30,
      // A shared build machine: never evict or garbage-collect the imported images mid-test.
      evictionHard: { 'memory.available': '50Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      serializeImagePulls: true,
      enforceNodeAllocatable: ['pods'],
      protectKernelDefaults: false,
      makeIPTablesUtilChains: false,
      syncFrequency: '5s',
      fileCheckFrequency: '5s',
      nodeStatusUpdateFrequency: '5s',
    }, null, 2));
  }

  /** Starts relay.js and waits until it prints `ready`. */
  private async startRelay(name: string, args: string[], inNode: boolean): Promise<void> {
    const child = this.spawnComponent(name, process.execPath, [RELAY_SCRIPT, ...args], inNode, true);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not listen in 10 s`)), 10_000);
      const poll = setInterval(() => {
        const log = readOrEmpty(join(this.workDir, `${name}.log`));
        if (log.includes('ready')) {
          clearInterval(poll);
          clearTimeout(timer);
          resolve();
        } else if (child.exitCode !== null) {
          clearInterval(poll);
          clearTimeout(timer);
          reject(new Error(`${name} exited: ${log}`));
        }
      }, 50);
    });
  }

  private spawnComponent(name: string, command: string, args: string[], inNode: boolean, appendLog = false): ChildProcess {
    const logFile = join(this.workDir, `${name}.log`);
    const log = openSync(logFile, appendLog ? 'a' : 'w');
    const [file, argv] = inNode
      ? ['nsenter', ['--target', String(this.holderPid), '--mount', '--net', '--', command, ...args]]
      : [command, args];
    const child = spawn(file, argv, { stdio: ['ignore', log, log], env: { PATH: process.env.PATH ?? '', HOME: this.workDir } });
    closeSync(log);
    child.on('error', () => undefined);
    this.components.push({ name: inNode ? `node:${name}` : name, process: child, logFile });
    return child;
  }

  /**
   * A copy of the teardown script that waits for this process to end, so that a crashed or killed
   * test run still leaves no process, namespace or cgroup behind.
   */
  private startWatchdog(): void {
    this.watchdog = spawn('sh', [TEARDOWN_SCRIPT, this.netns, this.cgroupRoot, this.workDir, this.options.keepWorkDir ? '1' : '0'], {
      detached: true,
      stdio: 'ignore',
      env: { PATH: process.env.PATH ?? '', WAIT_FOR_PID: String(process.pid) },
    });
    this.watchdog.unref();
  }

  private async waitFor(what: string, ready: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const exited = this.components.find((c) => c.process.exitCode !== null || c.process.signalCode !== null);
      if (exited) throw new Error(`${exited.name} exited with ${exited.process.exitCode ?? exited.process.signalCode} while waiting for ${what}`);
      if (await ready()) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`timed out after ${START_TIMEOUT_MS / 1000} s waiting for ${what}`);
  }
}

/** The cgroup v1 hierarchies mounted on this machine (`cpu`, `memory`, ..., `systemd`). */
function cgroupControllers(): string[] {
  return readFileSync('/proc/self/mounts', 'utf-8').split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[2] === 'cgroup' && fields[1].startsWith('/sys/fs/cgroup/'))
    .map((fields) => fields[1].slice('/sys/fs/cgroup/'.length));
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf-8');
  } catch {
    return '';
  }
}

function tail(file: string, lines: number): string {
  const text = readOrEmpty(file).trimEnd();
  return text ? text.split('\n').slice(-lines).join('\n') : '(empty)';
}
