import { createHash, X509Certificate } from 'crypto';
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  NODE_TRUST_CONTAINER_PATHS, NODE_TRUST_HOST_PATHS, NodeTrustMode, renderNodeTrustScript,
} from './node-trust-script';
import { Images } from '../images';
import { PrivateRegistry } from '../registry/private-registry';
import { invalid, validateNamespace, validateObjectName, validatePinnedImage } from '../validation';

/** The key of the CA certificate in the ConfigMap NodeTrust reads it from. */
export const NODE_TRUST_CA_KEY = 'ca.crt';

/** Where the script is mounted in the container. */
const SCRIPT_DIR = '/etc/node-trust/script';

/** Settings of `NodeTrust` other than its registry; `TrustedRegistryChartProps.nodeTrust`. */
export interface NodeTrustOptions {
  /**
   * The CA certificate (PEM) that signed the registry's certificate, or the self-signed
   * certificate itself (`SelfSignedRegistryCertificate.certificatePem`). Put in a ConfigMap
   * (a certificate is public). Give this or `caConfigMapName`.
   * @default - none; `caConfigMapName` is required then
   */
  readonly caCertificate?: string;

  /**
   * An existing ConfigMap in `namespace` whose key `ca.crt` holds the CA certificate (PEM), e.g.
   * one you copy from the `ca.crt` of the Secret cert-manager writes. Give this or `caCertificate`.
   * @default - none; `caCertificate` is required then
   */
  readonly caConfigMapName?: string;

  /**
   * Namespace of the DaemonSet and its ConfigMap. It must allow privileged pods (Pod Security
   * Standard `privileged`) and be exempt from the admission policy: the busybox image does not
   * come from the trusted registry, which the nodes cannot pull from until this runs.
   * @default 'kube-system'
   */
  readonly namespace?: string;

  /**
   * What the nodes' container runtime reads.
   * @default NodeTrustMode.CONTAINERD
   */
  readonly mode?: NodeTrustMode;

  /**
   * How often each node re-checks its files and the registry's ClusterIP.
   * @default Duration.minutes(1)
   */
  readonly interval?: Duration;

  /**
   * Base name of the DaemonSet and ConfigMap.
   * @default '<registry name>-node-trust'
   */
  readonly name?: string;

  /**
   * The image running the script (needs sh, nslookup, awk, sed, cmp); must be pinned by digest.
   * @default Images.BUSYBOX
   */
  readonly image?: string;
}

/** Props of `NodeTrust`. */
export interface NodeTrustProps extends NodeTrustOptions {
  /** The registry the nodes must trust and resolve. */
  readonly registry: PrivateRegistry;
}

/**
 * Makes every node's container runtime trust the registry's certificate and resolve its host
 * to the registry Service's ClusterIP (the runtime resolves names through the node, which does
 * not use cluster DNS). A privileged DaemonSet writes the runtime's registry configuration and a
 * marked line in /etc/hosts on each node, and repeats so a new ClusterIP or CA is picked up.
 * Opt-in: it changes files on the nodes. See the README, "Trusting the registry from every node".
 */
export class NodeTrust extends Construct {
  /** The key of the CA certificate in the ConfigMap named by `caConfigMapName`. */
  public static readonly CA_KEY: string = NODE_TRUST_CA_KEY;

  /** The DaemonSet running on every node. */
  public readonly daemonSet: kplus.DaemonSet;
  /** The ConfigMap holding the script (and the CA when given as `caCertificate`). */
  public readonly configMap: kplus.ConfigMap;
  /** The script each node runs. */
  public readonly script: string;
  /** The namespace of the DaemonSet, which the admission policy must exempt. */
  public readonly namespace: string;

  constructor(scope: Construct, id: string, props: NodeTrustProps) {
    super(scope, id);
    const registry = props.registry;
    const namespace = validateNamespace('namespace', props.namespace ?? 'kube-system');
    this.namespace = namespace;
    const name = validateObjectName('name', props.name ?? `${registry.name}-node-trust`);
    const image = validatePinnedImage('image', props.image ?? Images.BUSYBOX);
    if ((props.caCertificate === undefined) === (props.caConfigMapName === undefined)) {
      invalid('caCertificate', 'or \'caConfigMapName\' must be given (exactly one of them)', props.caCertificate === undefined ? 'neither' : 'both');
    }
    if (props.caCertificate !== undefined) {
      validateCertificatePem('caCertificate', props.caCertificate);
    }
    const interval = (props.interval ?? Duration.minutes(1)).toSeconds();
    const mode = props.mode ?? NodeTrustMode.CONTAINERD;

    this.script = renderNodeTrustScript({
      registryHost: registry.host,
      serviceDnsName: registry.serviceDnsNames[registry.serviceDnsNames.length - 1],
      mode,
      intervalSeconds: interval,
    });
    this.configMap = new kplus.ConfigMap(this, 'Config', {
      metadata: { name, namespace },
      data: {
        'node-trust.sh': this.script,
        ...(props.caCertificate !== undefined ? { [NODE_TRUST_CA_KEY]: props.caCertificate } : {}),
      },
    });
    const caConfigMap = props.caConfigMapName !== undefined
      ? kplus.ConfigMap.fromConfigMapName(this, 'CaConfig', validateObjectName('caConfigMapName', props.caConfigMapName))
      : this.configMap;

    this.daemonSet = new kplus.DaemonSet(this, 'Resource', {
      metadata: { name, namespace },
      automountServiceAccountToken: false,
      // Root, to write root-owned files on the node.
      securityContext: { ensureNonRoot: false, user: 0, group: 0 },
      podMetadata: {
        // Rolls the pods when the script or the CA changes.
        annotations: { 'checksum/config': createHash('sha256').update(this.script).update(props.caCertificate ?? props.caConfigMapName!).digest('hex') },
      },
    });
    // Every node pulls images, control-plane and tainted nodes included.
    this.daemonSet.scheduling.tolerate(new kplus.TaintedNode([kplus.NodeTaintQuery.any()]));

    const container = this.daemonSet.addContainer({
      name: 'node-trust',
      image,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      command: ['sh', `${SCRIPT_DIR}/node-trust.sh`],
      envVariables: {
        HOST_ROOT: kplus.EnvValue.fromValue(NODE_TRUST_CONTAINER_PATHS.hostRoot),
        CA_FILE: kplus.EnvValue.fromValue(NODE_TRUST_CONTAINER_PATHS.caFile),
      },
      resources: {
        cpu: { request: kplus.Cpu.millis(5), limit: kplus.Cpu.millis(100) },
        memory: { request: Size.mebibytes(8), limit: Size.mebibytes(32) },
      },
      securityContext: {
        ensureNonRoot: false,
        user: 0,
        group: 0,
        // Unconfined, so that SELinux-labelled host files (/etc/hosts, /etc/containerd) are
        // writable; on nodes without SELinux, root and the host paths alone would do.
        privileged: true,
        allowPrivilegeEscalation: true,
        readOnlyRootFilesystem: true,
      },
    });

    container.mount(SCRIPT_DIR, kplus.Volume.fromConfigMap(this, 'ScriptVolume', this.configMap, {
      name: 'script',
      items: { 'node-trust.sh': { path: 'node-trust.sh' } },
    }), { readOnly: true });
    container.mount(NODE_TRUST_CONTAINER_PATHS.caFile.replace(/\/[^/]+$/, ''), kplus.Volume.fromConfigMap(this, 'CaVolume', caConfigMap, {
      name: 'ca',
      items: { [NODE_TRUST_CA_KEY]: { path: 'ca.crt' } },
    }), { readOnly: true });
    container.mount('/tmp', kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp', { sizeLimit: Size.mebibytes(1) }));

    const runtimeDir = mode === NodeTrustMode.CONTAINERD ? NODE_TRUST_HOST_PATHS.containerdCertsDir : NODE_TRUST_HOST_PATHS.k3sConfigDir;
    container.mount(`${NODE_TRUST_CONTAINER_PATHS.hostRoot}${runtimeDir}`, kplus.Volume.fromHostPath(this, 'RuntimeConfigVolume', 'runtime-config', {
      path: runtimeDir,
      type: kplus.HostPathVolumeType.DIRECTORY_OR_CREATE,
    }));
    container.mount(`${NODE_TRUST_CONTAINER_PATHS.hostRoot}${NODE_TRUST_HOST_PATHS.hosts}`, kplus.Volume.fromHostPath(this, 'HostsVolume', 'hosts', {
      path: NODE_TRUST_HOST_PATHS.hosts,
      type: kplus.HostPathVolumeType.FILE,
    }));

    // cdk8s-plus-27 has no API for the priority class: the node's pulls depend on this pod.
    ApiObject.of(this.daemonSet).addJsonPatch(
      JsonPatch.add('/spec/template/spec/priorityClassName', 'system-node-critical'),
    );
  }
}

function validateCertificatePem(prop: string, pem: string): void {
  try {
    new X509Certificate(pem);
  } catch (error) {
    invalid(prop, `must be a PEM certificate ("-----BEGIN CERTIFICATE-----..."): ${(error as Error).message}`, `${pem.slice(0, 40)}...`);
  }
}
