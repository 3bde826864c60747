import { createHash, X509Certificate } from 'crypto';
import { ApiObject, App, Duration } from 'cdk8s';
import { Construct } from 'constructs';
import {
  NODE_TRUST_CONTAINER_PATHS, NODE_TRUST_HOST_PATHS, NodeTrustMode, renderNodeTrustScript, renderServiceResolverScript, validateServiceCidrs,
} from './node-trust-script';
import * as k8s from '../../imports/k8s';
import { API_ACCESS_MOUNT, API_ACCESS_VOLUME, SHELL_DIR, SHELL_VOLUME, shellInitContainer, TMP_VOLUME } from '../access/restricted-pod';
import { Images } from '../images';
import { PrivateRegistry } from '../registry/private-registry';
import { UniqueObjectsCheck } from '../unique-objects';
import { invalid, isDnsLabel, validateEnum, validateNamespace, validateObjectName, validatePinnedImage } from '../validation';

/** The key of the CA certificate in the ConfigMap NodeTrust reads it from. */
export const NODE_TRUST_CA_KEY = 'ca.crt';

/** The ConfigMap keys of the two scripts. */
const SCRIPT_KEYS = { nodeTrust: 'node-trust.sh', resolver: 'resolve-service.sh' } as const;

/** Where each script is mounted (by subPath: a later ConfigMap change never reaches a running container). */
const SCRIPT_DIR = '/etc/node-trust/script';

/** The uid the resolver runs as: it only reads the API and writes the shared answer. */
const RESOLVER_USER_ID = 65532;

/** The resolver's own /tmp (kubectl's cache). */
const RESOLVER_TMP_VOLUME: k8s.Volume = { name: 'resolver-tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } };

/**
 * The Pod Security Standard levels that refuse NodeTrust's pod (hostPath volumes, uid 0): only
 * `privileged` (or no `enforce` label) admits it.
 */
const REFUSING_POD_SECURITY_LEVELS: readonly string[] = ['baseline', 'restricted'];
const POD_SECURITY_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

/** The Service ranges assumed when `serviceCidrs` is not given, by mode. */
const DEFAULT_SERVICE_CIDRS: Record<NodeTrustMode, string[]> = {
  // kubeadm's default `--service-cidr` (kind uses 10.96.0.0/16, inside it).
  [NodeTrustMode.CONTAINERD]: ['10.96.0.0/12'],
  // k3s' default `--service-cidr`.
  [NodeTrustMode.K3S]: ['10.43.0.0/16'],
};

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
   * Namespace of the DaemonSet, its ServiceAccount and ConfigMap. It must admit privileged pods
   * (no Pod Security `enforce` label, or `privileged`): a Namespace of the app that enforces
   * `baseline` or `restricted` is refused at synth. It must be exempt from the admission policy:
   * the images do not come from the trusted registry, which the nodes cannot pull from until
   * this runs.
   * @default 'kube-system'
   */
  readonly namespace?: string;

  /**
   * What the nodes' container runtime reads.
   * @default NodeTrustMode.CONTAINERD
   */
  readonly mode?: NodeTrustMode;

  /**
   * The cluster's Service IP range (`--service-cluster-ip-range` of the API server), one CIDR
   * per IP family. The host is mapped only to a ClusterIP inside it: an address outside (or a
   * Service that is not of type ClusterIP) leaves the nodes' /etc/hosts as it is.
   * @default ['10.96.0.0/12'] (kubeadm's and kind's default) in containerd mode, ['10.43.0.0/16'] (k3s' default) in k3s mode
   */
  readonly serviceCidrs?: string[];

  /**
   * How often each node re-checks its files and the registry's ClusterIP.
   * @default Duration.minutes(1)
   */
  readonly interval?: Duration;

  /**
   * Name of the DaemonSet, ServiceAccount, ConfigMap, and of the Role and RoleBinding in the
   * registry's namespace. A DNS label of at most 63 characters.
   * @default '<registry namespace>-<registry name>-node-trust' (distinct for every install, in a shared namespace such as kube-system)
   */
  readonly name?: string;

  /**
   * The image writing the node's files (needs sh, awk, grep, cmp, stat); must be pinned by digest.
   * @default Images.BUSYBOX
   */
  readonly image?: string;

  /**
   * The image reading the Service from the API (provides `kubectl`; needs no shell: the resolver
   * runs with the one of `shellImage`); must be pinned by digest.
   * @default Images.KUBECTL
   */
  readonly kubectlImage?: string;

  /**
   * Image whose `/bin/busybox` is a statically linked BusyBox, copied into the resolver container
   * as its shell; must be pinned by digest.
   * @default Images.SHELL
   */
  readonly shellImage?: string;
}

/** Props of `NodeTrust`. */
export interface NodeTrustProps extends NodeTrustOptions {
  /** The registry the nodes must trust and resolve. */
  readonly registry: PrivateRegistry;
}

/**
 * Makes every node's container runtime trust the registry's certificate and resolve its host
 * to the registry Service's ClusterIP (the runtime resolves names through the node, which does
 * not use cluster DNS). A DaemonSet with two containers runs on every node:
 *
 * - `resolve` reads the registry Service from the API (never DNS) with a ServiceAccount that may
 *   `get` that one Service and nothing else, and passes its type and ClusterIP on;
 * - `node-trust` has no API access; it checks the answer (type ClusterIP, an address in
 *   `serviceCidrs`), writes the runtime's registry configuration and one marked line in
 *   /etc/hosts, and repeats so a new ClusterIP or CA is picked up.
 *
 * `node-trust` runs as uid 0 (the files are root's) without privilege and with every capability
 * dropped: as their owner, root writes them without CAP_DAC_OVERRIDE, and nothing else is
 * needed. It mounts only what it writes: `certs.d/<host>/` (or, for k3s, `registries.yaml` and
 * `trusted-registry/<host>/`) and `/etc/hosts`.
 *
 * Opt-in: it changes files on the nodes. See the README, "Trusting the registry from every node".
 */
export class NodeTrust extends Construct {
  /** The key of the CA certificate in the ConfigMap named by `caConfigMapName`. */
  public static readonly CA_KEY: string = NODE_TRUST_CA_KEY;

  /** The DaemonSet running on every node. */
  public readonly daemonSet: ApiObject;
  /** The ConfigMap holding the scripts (and the CA when given as `caCertificate`). */
  public readonly configMap: ApiObject;
  /** The ServiceAccount of the `resolve` container. */
  public readonly serviceAccount: ApiObject;
  /** The script the `node-trust` container runs on each node. */
  public readonly script: string;
  /** The script the `resolve` container runs. */
  public readonly resolverScript: string;
  /** The namespace of the DaemonSet, which the admission policy must exempt. */
  public readonly namespace: string;
  /** The Service ranges a ClusterIP must be in. */
  public readonly serviceCidrs: string[];

  constructor(scope: Construct, id: string, props: NodeTrustProps) {
    super(scope, id);
    const registry = props.registry;
    const namespace = validateNamespace('namespace', props.namespace ?? 'kube-system');
    this.namespace = namespace;
    const name = props.name ?? `${registry.namespace}-${registry.name}-node-trust`;
    if (!isDnsLabel(name)) {
      invalid('name', `must be a DNS label (lowercase letters, digits and "-", at most 63 characters)${props.name === undefined ? ': the default <registry namespace>-<registry name>-node-trust is too long, give a shorter one' : ''}`, name);
    }
    const image = validatePinnedImage('image', props.image ?? Images.BUSYBOX);
    const kubectlImage = validatePinnedImage('kubectlImage', props.kubectlImage ?? Images.KUBECTL);
    const shellImage = validatePinnedImage('shellImage', props.shellImage ?? Images.SHELL);
    if ((props.caCertificate === undefined) === (props.caConfigMapName === undefined)) {
      invalid('caCertificate', 'or \'caConfigMapName\' must be given (exactly one of them)', props.caCertificate === undefined ? 'neither' : 'both');
    }
    if (props.caCertificate !== undefined) {
      validateCertificatePem('caCertificate', props.caCertificate);
    }
    if (props.caConfigMapName !== undefined) {
      validateObjectName('caConfigMapName', props.caConfigMapName);
    }
    const interval = (props.interval ?? Duration.minutes(1)).toSeconds();
    const mode = validateEnum('mode', props.mode ?? NodeTrustMode.CONTAINERD, Object.values(NodeTrustMode));
    this.serviceCidrs = validateServiceCidrs('serviceCidrs', props.serviceCidrs ?? DEFAULT_SERVICE_CIDRS[mode]);
    const service = registry.service;

    this.script = renderNodeTrustScript({ registryHost: registry.host, serviceCidrs: this.serviceCidrs, mode, intervalSeconds: interval });
    this.resolverScript = renderServiceResolverScript({ serviceName: service.name, serviceNamespace: registry.namespace, intervalSeconds: interval });
    const labels = { 'app.kubernetes.io/name': 'node-trust', 'app.kubernetes.io/instance': name };

    this.configMap = new k8s.KubeConfigMap(this, 'Config', {
      metadata: { name, namespace, labels },
      data: {
        [SCRIPT_KEYS.nodeTrust]: this.script,
        [SCRIPT_KEYS.resolver]: this.resolverScript,
        ...(props.caCertificate !== undefined ? { [NODE_TRUST_CA_KEY]: props.caCertificate } : {}),
      },
    });

    // The resolver may read the registry Service, by name, and nothing else.
    this.serviceAccount = new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { name, namespace, labels },
      automountServiceAccountToken: false,
    });
    new k8s.KubeRole(this, 'Role', {
      metadata: { name, namespace: registry.namespace, labels },
      rules: [{ apiGroups: [''], resources: ['services'], resourceNames: [service.name], verbs: ['get'] }],
    });
    new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata: { name, namespace: registry.namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    });

    // A changed script or CA rolls the pods through these annotations, and node-trust checks its
    // mounted script (and an inline CA) against them before it runs: a ConfigMap changed behind
    // the DaemonSet's back is refused at the next container start. The resolver's script is not
    // checked in its image (which may lack sha256sum): whatever it writes, node-trust checks.
    const checksums: Record<string, string> = {
      [SCRIPT_KEYS.nodeTrust]: sha256(this.script),
      [SCRIPT_KEYS.resolver]: sha256(this.resolverScript),
      ...(props.caCertificate !== undefined ? { [NODE_TRUST_CA_KEY]: sha256(props.caCertificate) } : {}),
    };
    const annotations = Object.fromEntries(Object.entries(checksums).map(([key, hash]) => [checksumAnnotation(key), hash]));

    const answerMount: k8s.VolumeMount = { name: 'answer', mountPath: NODE_TRUST_CONTAINER_PATHS.answerFile.replace(/\/[^/]+$/, '') };
    const scriptMount = (key: string): k8s.VolumeMount => ({ name: 'scripts', mountPath: `${SCRIPT_DIR}/${key}`, subPath: key, readOnly: true });
    const hostMounts = writablePaths(registry.host, mode);

    const nodeTrustContainer: k8s.Container = {
      name: 'node-trust',
      image,
      imagePullPolicy: 'IfNotPresent',
      command: ['sh', '-c', verifiedRun([SCRIPT_KEYS.nodeTrust, ...(props.caCertificate !== undefined ? [NODE_TRUST_CA_KEY] : [])], SCRIPT_KEYS.nodeTrust)],
      env: [
        { name: 'HOST_ROOT', value: NODE_TRUST_CONTAINER_PATHS.hostRoot },
        { name: 'CA_FILE', value: NODE_TRUST_CONTAINER_PATHS.caFile },
        { name: 'ANSWER_FILE', value: NODE_TRUST_CONTAINER_PATHS.answerFile },
        ...checksumEnv(checksums, [SCRIPT_KEYS.nodeTrust, NODE_TRUST_CA_KEY]),
      ],
      resources: {
        requests: { cpu: k8s.Quantity.fromString('5m'), memory: k8s.Quantity.fromString('8Mi') },
        limits: { cpu: k8s.Quantity.fromString('100m'), memory: k8s.Quantity.fromString('32Mi') },
      },
      securityContext: {
        // uid 0 only to write root's files as their owner: no privilege, no capability (not even
        // CAP_DAC_OVERRIDE or CAP_CHOWN), no escalation.
        runAsUser: 0,
        runAsGroup: 0,
        runAsNonRoot: false,
        privileged: false,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      },
      volumeMounts: [
        scriptMount(SCRIPT_KEYS.nodeTrust),
        // An inline CA is fixed for the container's life (checked, rolled with the pods); a CA from
        // your ConfigMap is mounted as a directory, so that a new one reaches running pods.
        props.caCertificate !== undefined
          ? { name: 'ca', mountPath: NODE_TRUST_CONTAINER_PATHS.caFile, subPath: NODE_TRUST_CA_KEY, readOnly: true }
          : { name: 'ca', mountPath: NODE_TRUST_CONTAINER_PATHS.caFile.replace(/\/[^/]+$/, ''), readOnly: true },
        { ...answerMount, readOnly: true },
        { name: TMP_VOLUME.name, mountPath: '/tmp' },
        ...hostMounts.map((mount) => ({ name: mount.name, mountPath: `${NODE_TRUST_CONTAINER_PATHS.hostRoot}${mount.path}` })),
      ],
    };

    const resolverContainer: k8s.Container = {
      name: 'resolve',
      image: kubectlImage,
      imagePullPolicy: 'IfNotPresent',
      // The kubectl image has no shell (registry.k8s.io/kubectl is distroless): borrow BusyBox.
      command: [`${SHELL_DIR}/sh`, `${SCRIPT_DIR}/${SCRIPT_KEYS.resolver}`],
      env: [
        { name: 'PATH', value: `${SHELL_DIR}:/usr/local/bin:/usr/bin:/bin` },
        { name: 'ANSWER_FILE', value: NODE_TRUST_CONTAINER_PATHS.answerFile },
        // kubectl's cache; the root filesystem is read-only.
        { name: 'HOME', value: '/tmp' },
      ],
      resources: {
        requests: { cpu: k8s.Quantity.fromString('5m'), memory: k8s.Quantity.fromString('32Mi') },
        limits: { cpu: k8s.Quantity.fromString('200m'), memory: k8s.Quantity.fromString('128Mi') },
      },
      securityContext: {
        runAsUser: RESOLVER_USER_ID,
        runAsGroup: RESOLVER_USER_ID,
        runAsNonRoot: true,
        privileged: false,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      },
      volumeMounts: [
        scriptMount(SCRIPT_KEYS.resolver),
        answerMount,
        { name: RESOLVER_TMP_VOLUME.name, mountPath: '/tmp' },
        { name: SHELL_VOLUME.name, mountPath: SHELL_DIR, readOnly: true },
        API_ACCESS_MOUNT,
      ],
    };

    this.daemonSet = new k8s.KubeDaemonSet(this, 'Resource', {
      metadata: { name, namespace, labels },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations },
          spec: {
            serviceAccountName: name,
            // Only the resolver gets a token (API_ACCESS_VOLUME); node-trust has no API access.
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            // The node's pulls depend on this pod; every node pulls, tainted ones included.
            priorityClassName: 'system-node-critical',
            tolerations: [{ operator: 'Exists' }],
            terminationGracePeriodSeconds: 10,
            securityContext: {
              seccompProfile: { type: 'RuntimeDefault' },
              // Makes the shared answer volume writable for the resolver's uid.
              fsGroup: RESOLVER_USER_ID,
            },
            // runAsNonRoot alone makes the kubelet refuse a shell image whose user is root (BusyBox's
            // is), and this pod sets no pod-wide uid: the copy runs as the resolver it is for.
            initContainers: [withUser(shellInitContainer(shellImage), RESOLVER_USER_ID)],
            containers: [nodeTrustContainer, resolverContainer],
            volumes: [
              { name: 'scripts', configMap: { name, items: [SCRIPT_KEYS.nodeTrust, SCRIPT_KEYS.resolver].map((key) => ({ key, path: key })) } },
              { name: 'ca', configMap: { name: props.caConfigMapName ?? name, items: [{ key: NODE_TRUST_CA_KEY, path: NODE_TRUST_CA_KEY }] } },
              { name: 'answer', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('1Mi') } },
              // Separate: a root process must not use temporary files another uid can plant.
              TMP_VOLUME,
              RESOLVER_TMP_VOLUME,
              SHELL_VOLUME,
              API_ACCESS_VOLUME,
              ...hostMounts.map((mount) => ({ name: mount.name, hostPath: { path: mount.path, type: mount.type } })),
            ],
          },
        },
      },
    });

    this.node.addValidation({ validate: () => this.checkNamespaceAdmitsPrivilegedPods() });
    UniqueObjectsCheck.addTo(this);
  }

  /** Refuses a namespace that a Namespace object of the app labels to enforce baseline or restricted. */
  private checkNamespaceAdmitsPrivilegedPods(): string[] {
    const levels = App.of(this).node.findAll()
      .filter((construct): construct is ApiObject => construct instanceof ApiObject && construct.kind === 'Namespace' && construct.name === this.namespace)
      .map((namespaceObject) => namespaceObject.metadata.getLabel(POD_SECURITY_ENFORCE_LABEL))
      .filter((level): level is string => level !== undefined && REFUSING_POD_SECURITY_LEVELS.includes(level));
    return levels.map((level) => `'namespace' must admit privileged pods, got "${this.namespace}", whose Namespace in this app is labelled ${POD_SECURITY_ENFORCE_LABEL}=${level}: the API server would refuse every NodeTrust pod (hostPath volumes, uid 0); use a namespace without that label, e.g. "kube-system"`);
  }
}

/** One host path the `node-trust` container writes. */
interface WritablePath {
  readonly name: string;
  readonly path: string;
  readonly type: string;
}

/**
 * The only node paths NodeTrust mounts: the registry's own directory for the runtime (never the
 * whole certs.d, which would let it redirect pulls from docker.io or registry.k8s.io, nor
 * /etc/rancher/k3s, which holds the admin kubeconfig), and the hosts file.
 */
function writablePaths(host: string, mode: NodeTrustMode): WritablePath[] {
  const runtime: WritablePath[] = mode === NodeTrustMode.CONTAINERD
    ? [{ name: 'registry-hosts-dir', path: `${NODE_TRUST_HOST_PATHS.containerdCertsDir}/${host}`, type: 'DirectoryOrCreate' }]
    : [
      { name: 'k3s-registries', path: NODE_TRUST_HOST_PATHS.k3sRegistries, type: 'FileOrCreate' },
      { name: 'k3s-registry-ca', path: `${NODE_TRUST_HOST_PATHS.k3sCaDir}/${host}`, type: 'DirectoryOrCreate' },
    ];
  return [...runtime, { name: 'hosts', path: NODE_TRUST_HOST_PATHS.hosts, type: 'File' }];
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The pod annotation holding the SHA-256 of a ConfigMap key. */
function checksumAnnotation(key: string): string {
  return `node-trust.cdk8s-trusted-registry/sha256-${key}`;
}

/** The environment variable a container reads a key's SHA-256 from (from its pod's annotation). */
function checksumVariable(key: string): string {
  return `SHA256_${key.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`;
}

function checksumEnv(checksums: Record<string, string>, keys: string[]): k8s.EnvVar[] {
  return keys.filter((key) => checksums[key] !== undefined).map((key) => ({
    name: checksumVariable(key),
    valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${checksumAnnotation(key)}']` } },
  }));
}

/** `sh -c` text that runs `script` only when every mounted file in `keys` has its annotated SHA-256. */
function verifiedRun(keys: string[], script: string): string {
  const path = (key: string) => (key === NODE_TRUST_CA_KEY ? NODE_TRUST_CONTAINER_PATHS.caFile : `${SCRIPT_DIR}/${key}`);
  const checks = keys.map((key) => `[ "$(sha256sum < ${path(key)})" = "$${checksumVariable(key)}  -" ] || { echo "node-trust: ${path(key)} does not match the pod's annotation ${checksumAnnotation(key)}: refusing to run" >&2; exit 2; }`);
  return [...checks, `exec sh ${path(script)}`].join('\n');
}

function validateCertificatePem(prop: string, pem: string): void {
  try {
    new X509Certificate(pem);
  } catch (error) {
    invalid(prop, `must be a PEM certificate ("-----BEGIN CERTIFICATE-----..."): ${(error as Error).message}`, `${pem.slice(0, 40)}...`);
  }
}

/** `container` running as `uid` (and the same gid). */
function withUser(container: k8s.Container, uid: number): k8s.Container {
  return { ...container, securityContext: { ...container.securityContext, runAsUser: uid, runAsGroup: uid } };
}
