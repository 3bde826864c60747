import { createHash } from 'crypto';
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { HtpasswdFile, HtpasswdSource } from './htpasswd-source';
import { RegistryCertificate } from './registry-certificate';
import { REGISTRY_CONTAINER_PORT, REGISTRY_PATHS, REGISTRY_PUSH_CONTAINER_PORT, RegistryConfigOptions, RegistryRole, renderRegistryConfig } from './registry-config';
import { RegistryStorage } from './registry-storage';
import { GrantPullOptions, PullAccess } from '../access/pull-access';
import { RegistryCredentialsGenerator } from '../access/registry-credentials-generator';
import { Images } from '../images';
import { UniqueObjectsCheck } from '../unique-objects';
import {
  invalid, isRepositoryPath, requireChartNamespace, validateEnum, validateHost, validateInteger, validateObjectName, validatePinnedImage, validateServiceName,
} from '../validation';

/** The port the Service and Ingress backend listen on, so image references need no port. */
export const REGISTRY_SERVICE_PORT = 443;

/**
 * The uid and gid the registry runs as (the `registry:2` image needs no particular user): 65532,
 * "nonroot" in distroless images and the Jobs' uid, far from the first real users of a node
 * (1000 and up), so a file the registry writes on a node's disk maps to no one there.
 */
export const REGISTRY_USER_ID = 65532;

/**
 * ingress-nginx annotations a push through the Ingress needs: no body size limit (layers are
 * large), no request buffering (streams uploads instead of spooling them to the controller's
 * disk), 600 s read/send timeouts for slow layers, and HTTPS to the backend because the
 * registry only serves TLS. `PrivateRegistry` adds the backend certificate verification
 * (`proxy-ssl-verify`, `proxy-ssl-secret`, `proxy-ssl-name`) to these, since it depends on the
 * registry's namespace, TLS Secret and push Service name.
 */
export const INGRESS_NGINX_ANNOTATIONS: Readonly<Record<string, string>> = {
  'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS',
  'nginx.ingress.kubernetes.io/proxy-body-size': '0',
  'nginx.ingress.kubernetes.io/proxy-read-timeout': '600',
  'nginx.ingress.kubernetes.io/proxy-request-buffering': 'off',
  'nginx.ingress.kubernetes.io/proxy-send-timeout': '600',
};

/** The kind of workload that runs the registry. */
export enum RegistryWorkloadKind {
  /** A Deployment (with the `Recreate` strategy on storage only one pod can mount). */
  DEPLOYMENT = 'Deployment',
  /** A StatefulSet: never two pods of the same ordinal at once. */
  STATEFUL_SET = 'StatefulSet',
}

/**
 * The longest registry `name`: it names the Service, and the longest name derived from it
 * (the credentials Job, `<name>-credentials-<generation>-<hash>`) must stay a DNS label.
 */
export const REGISTRY_NAME_MAX_LENGTH = 40;

/** Names of the pod's two registry containers. */
export class RegistryContainerNames {
  /** The read-only registry behind `PrivateRegistry.service` (pulls: nodes and tenants). */
  public static readonly READER = 'reader';
  /** The writing registry behind `PrivateRegistry.pushService` and the Ingress (pushes: CI). */
  public static readonly WRITER = 'writer';

  private constructor() {}
}

/** The key of the HTTP secret inside the Secret given as `httpSecret`. */
export const HTTP_SECRET_KEY = 'http-secret';

/** Settings of `PrivateRegistry` other than its host; `TrustedRegistryChartProps.registry`. */
export interface PrivateRegistryOptions {
  /**
   * Base name of the registry's Kubernetes objects (Service, workload, ConfigMap, claim, Secrets).
   * @default 'registry'
   */
  readonly name?: string;

  /**
   * The registry image; must be pinned by digest.
   * @default Images.REGISTRY
   */
  readonly image?: string;

  /**
   * Number of registry pods (each runs a reader and a writer). More than one needs shared storage
   * and `httpSecret`.
   * @default 1
   */
  readonly replicas?: number;

  /**
   * The workload kind that runs the registry.
   * @default RegistryWorkloadKind.DEPLOYMENT
   */
  readonly workloadKind?: RegistryWorkloadKind;

  /**
   * Where blobs are stored.
   * @default RegistryStorage.newClaim() - a 10 GiB ReadWriteOnce claim of the default StorageClass
   */
  readonly storage?: RegistryStorage;

  /**
   * The htpasswd files the registry authenticates users against: push users on the writer, pull
   * users on the read-only path.
   * @default HtpasswdSource.fromSecretName('<name>-htpasswd') - a Secret you create beforehand, keys `htpasswd-push` and `htpasswd-pull`
   */
  readonly htpasswd?: HtpasswdSource;

  /**
   * The certificate the registry and its Ingress serve.
   * @default RegistryCertificate.fromSecretName('<name>-tls') - a TLS Secret you create beforehand
   */
  readonly certificate?: RegistryCertificate;

  /**
   * A Secret whose key `http-secret` holds the registry's `http.secret` (signs upload state).
   * Required with more than one replica, so that an upload may continue on another pod.
   * @default - each pod generates its own at start (fine for one replica)
   */
  readonly httpSecret?: kplus.ISecret;

  /**
   * Whether to expose the push path outside the cluster through a TLS Ingress for `host` (its
   * backend is `pushService`: CI pushes through it; pull users are refused there).
   * @default true
   */
  readonly ingress?: boolean;

  /**
   * IngressClass of the Ingress.
   * @default 'nginx'
   */
  readonly ingressClassName?: string;

  /**
   * Annotations of the Ingress. Replaces the defaults entirely, so controllers other than
   * ingress-nginx get only their own (and must verify the backend certificate their own way).
   * @default PrivateRegistry.INGRESS_NGINX_ANNOTATIONS plus backend certificate verification against the TLS Secret's `ca.crt` for the push Service's name
   */
  readonly ingressAnnotations?: Record<string, string>;

  /**
   * Settings of both registry processes' `config.yml`.
   * @default - deletes off, TLS 1.2 minimum, realm 'Registry', log level info
   */
  readonly config?: RegistryConfigOptions;

  /**
   * CPU and memory of each registry container (the reader and the writer).
   * @default - requests 100m CPU / 128 MiB, limits 1 CPU / 512 MiB
   */
  readonly resources?: kplus.ContainerResources;
}

/** Props of `PrivateRegistry`. */
export interface PrivateRegistryProps extends PrivateRegistryOptions {
  /**
   * The DNS name clients use for the registry (the Ingress host and the first name of image
   * references), without scheme, port or path.
   */
  readonly host: string;
}

/**
 * A private container registry (distribution `registry:2`) inside the cluster that only CI can
 * write: TLS everywhere, htpasswd authentication, ClusterIP Services (no NodePort or
 * LoadBalancer can be produced), an optional TLS Ingress, persistent storage and a pod that
 * passes the restricted Pod Security Standard.
 *
 * Each pod runs two registry processes on the same storage: a read-only reader
 * (`storage.maintenance.readonly`) that authenticates only the pull users, behind `service`
 * (what nodes and tenants pull through), and a writer that authenticates only the push users,
 * behind `pushService` and the Ingress (what CI pushes through). Deletes are off unless
 * `config.deleteEnabled`, and then possible only on the writer.
 */
export class PrivateRegistry extends Construct {
  /** The port the Service and Ingress backend listen on, so image references need no port. */
  public static readonly SERVICE_PORT: number = REGISTRY_SERVICE_PORT;
  /** The ingress-nginx annotations the Ingress gets unless `ingressAnnotations` is set. */
  public static readonly INGRESS_NGINX_ANNOTATIONS: { [key: string]: string } = { ...INGRESS_NGINX_ANNOTATIONS };
  /** The key of the HTTP secret inside the Secret given as `httpSecret`. */
  public static readonly HTTP_SECRET_KEY: string = HTTP_SECRET_KEY;

  /** The DNS name clients use, e.g. in image references `<host>/<repository>@sha256:<digest>`. */
  public readonly host: string;
  /** Base name of the Kubernetes objects. */
  public readonly name: string;
  /** The namespace the registry runs in (the chart's). */
  public readonly namespace: string;
  /** The in-cluster DNS names of `service` (the read-only pull path), short form first. */
  public readonly serviceDnsNames: string[];
  /**
   * The read-only pull path: a ClusterIP Service on port 443 to the reader. Nodes (NodeTrust maps
   * `host` to its ClusterIP) and tenants pull through it; no write is possible there.
   */
  public readonly service: kplus.Service;
  /**
   * The push path inside the cluster: a ClusterIP Service on port 443 to the writer, also the
   * Ingress's backend. Only the push users authenticate there.
   */
  public readonly pushService: kplus.Service;
  /**
   * The in-cluster DNS names of `pushService`, short form first: what CI inside the cluster pushes
   * to (`<name>-push.<namespace>.svc`), covered by the certificate.
   */
  public readonly pushServiceDnsNames: string[];
  /** The Deployment or StatefulSet running the registry. */
  public readonly workload: kplus.Deployment | kplus.StatefulSet;
  /** The ConfigMap holding both processes' configuration (keys `reader.yml` and `writer.yml`). */
  public readonly configMap: kplus.ConfigMap;
  /** The Secret holding the pull users' htpasswd file (the read-only path's). */
  public readonly htpasswdSecret: kplus.ISecret;
  /** The Secret holding the push users' htpasswd file (the writer's); often the same Secret. */
  public readonly pushHtpasswdSecret: kplus.ISecret;
  /** The `kubernetes.io/tls` Secret the registry and Ingress serve. */
  public readonly tlsSecret: kplus.ISecret;
  /** The claim holding the registry's data. */
  public readonly claim: kplus.IPersistentVolumeClaim;
  /** The Ingress, when `ingress` is on. */
  public readonly ingress?: kplus.Ingress;
  /** The in-cluster credentials generator, when `htpasswd` is `HtpasswdSource.generated()`. */
  public readonly credentials?: RegistryCredentialsGenerator;

  constructor(scope: Construct, id: string, props: PrivateRegistryProps) {
    super(scope, id);
    UniqueObjectsCheck.addTo(this);
    this.host = validateHost('host', props.host);
    this.name = validateServiceName('name', props.name ?? 'registry', REGISTRY_NAME_MAX_LENGTH);
    this.namespace = requireChartNamespace(this, 'its in-cluster DNS names depend on it');
    this.serviceDnsNames = [`${this.name}.${this.namespace}.svc`, `${this.name}.${this.namespace}.svc.cluster.local`];
    const pushServiceName = validateObjectName('name', `${this.name}-push`);
    this.pushServiceDnsNames = [`${pushServiceName}.${this.namespace}.svc`, `${pushServiceName}.${this.namespace}.svc.cluster.local`];

    const image = validatePinnedImage('image', props.image ?? Images.REGISTRY);
    const replicas = validateInteger('replicas', props.replicas ?? 1, 1, 100);
    const workloadKind = validateEnum('workloadKind', props.workloadKind ?? RegistryWorkloadKind.DEPLOYMENT, Object.values(RegistryWorkloadKind));

    const storage = (props.storage ?? RegistryStorage.newClaim()).bind(this, `${this.name}-data`);
    this.claim = storage.claim;
    if (replicas > 1 && !storage.shared) {
      invalid('replicas', 'can be more than 1 only with shared storage (RegistryStorage.newClaim({ accessMode: READ_WRITE_MANY }) or fromClaimName(name, { shared: true }))', replicas);
    }
    if (replicas > 1 && !props.httpSecret) {
      invalid('httpSecret', `must be set when 'replicas' is more than 1 (every pod must sign upload state with the same secret; replicas is ${replicas})`, props.httpSecret);
    }

    const htpasswd = (props.htpasswd ?? HtpasswdSource.fromSecretName(`${this.name}-htpasswd`))
      .bind(this, { secretName: `${this.name}-htpasswd`, saltContext: this.host, host: this.host, registryName: this.name });
    this.htpasswdSecret = htpasswd.pull.secret;
    this.pushHtpasswdSecret = htpasswd.push.secret;
    this.credentials = htpasswd.generator;
    this.tlsSecret = (props.certificate ?? RegistryCertificate.fromSecretName(`${this.name}-tls`))
      .bind(this, { secretName: `${this.name}-tls`, dnsNames: [this.host, ...this.serviceDnsNames, ...this.pushServiceDnsNames] });

    const configs = {
      [RegistryContainerNames.READER]: renderRegistryConfig(RegistryRole.READER, props.config),
      [RegistryContainerNames.WRITER]: renderRegistryConfig(RegistryRole.WRITER, props.config),
    };
    this.configMap = new kplus.ConfigMap(this, 'Config', {
      metadata: { name: `${this.name}-config` },
      data: Object.fromEntries(Object.entries(configs).map(([container, yaml]) => [`${container}.yml`, yaml])),
    });

    this.service = new kplus.Service(this, 'Service', {
      metadata: { name: this.name },
      type: kplus.ServiceType.CLUSTER_IP,
      ports: [{ name: 'https', port: REGISTRY_SERVICE_PORT, targetPort: REGISTRY_CONTAINER_PORT, protocol: kplus.Protocol.TCP }],
    });
    this.pushService = new kplus.Service(this, 'PushService', {
      metadata: { name: pushServiceName },
      type: kplus.ServiceType.CLUSTER_IP,
      ports: [{ name: 'https', port: REGISTRY_SERVICE_PORT, targetPort: REGISTRY_PUSH_CONTAINER_PORT, protocol: kplus.Protocol.TCP }],
    });

    const podProps: kplus.WorkloadProps = {
      automountServiceAccountToken: false,
      securityContext: {
        ensureNonRoot: true,
        user: REGISTRY_USER_ID,
        group: REGISTRY_USER_ID,
        fsGroup: REGISTRY_USER_ID,
        // Skips a recursive chown of the whole registry volume on every start.
        fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
      },
      podMetadata: {
        // Rolls the pods when a config.yml changes; a ConfigMap update alone would not.
        annotations: { 'checksum/config': createHash('sha256').update(configs.reader).update('\0').update(configs.writer).digest('hex') },
      },
    };
    this.workload = workloadKind === RegistryWorkloadKind.STATEFUL_SET
      ? new kplus.StatefulSet(this, 'Resource', {
        ...podProps,
        replicas,
        metadata: { name: this.name },
        service: this.service,
      })
      : new kplus.Deployment(this, 'Resource', {
        ...podProps,
        replicas,
        metadata: { name: this.name },
        // A rolling update would start the new pod before the old one releases a
        // ReadWriteOnce volume, and wait forever.
        strategy: storage.shared ? kplus.DeploymentStrategy.rollingUpdate() : kplus.DeploymentStrategy.recreate(),
      });
    this.service.select(this.workload);
    this.pushService.select(this.workload);

    const data = kplus.Volume.fromPersistentVolumeClaim(this, 'DataVolume', this.claim, { name: 'data' });
    const tls = kplus.Volume.fromSecret(this, 'TlsVolume', this.tlsSecret, {
      name: 'tls',
      items: { 'tls.crt': { path: 'tls.crt' }, 'tls.key': { path: 'tls.key' } },
    });
    this.addRegistryContainer(RegistryContainerNames.READER, REGISTRY_CONTAINER_PORT, htpasswd.pull, { image, data, tls, props });
    this.addRegistryContainer(RegistryContainerNames.WRITER, REGISTRY_PUSH_CONTAINER_PORT, htpasswd.push, { image, data, tls, props });
    // cdk8s-plus-27 has no API for these two restricted-profile settings.
    ApiObject.of(this.workload).addJsonPatch(
      JsonPatch.add('/spec/template/spec/securityContext/seccompProfile', { type: 'RuntimeDefault' }),
      JsonPatch.add('/spec/template/spec/containers/0/securityContext/capabilities', { drop: ['ALL'] }),
      JsonPatch.add('/spec/template/spec/containers/1/securityContext/capabilities', { drop: ['ALL'] }),
    );

    if (props.ingress ?? true) {
      this.ingress = this.addIngress(props);
    }
  }

  /**
   * Gives consumer namespaces pull access: a copy of the pull Secret in each, optionally added to
   * the `imagePullSecrets` of their ServiceAccounts. Uses the generated pull identity when
   * `htpasswd` is `HtpasswdSource.generated()`; otherwise `credentials` names your Secret.
   *
   * @param id construct id, unique among this registry's grants
   * @param options the namespaces, ServiceAccounts and credentials
   */
  public grantPull(id: string, options: GrantPullOptions): PullAccess {
    const pullCredentials = options.credentials ?? this.credentials;
    if (!pullCredentials) {
      invalid('credentials', 'must be given to grantPull() when the registry\'s htpasswd is not HtpasswdSource.generated() (use PullCredentials.fromSecretName())', pullCredentials);
    }
    // The push credential must never leave the registry's namespace.
    const pushSecrets = [this.credentials?.pushSecretName, this.credentials?.htpasswdSecretName, this.htpasswdSecret.name, this.pushHtpasswdSecret.name];
    if (pushSecrets.includes(pullCredentials.pullSecretName)) {
      invalid('credentials', 'must name the pull identity\'s Secret, not the push identity\'s or an htpasswd Secret: grantPull() copies it into every listed namespace', pullCredentials.pullSecretName);
    }
    return new PullAccess(this, id, { ...options, credentials: pullCredentials });
  }

  /** The reference of an image in this registry, pinned by digest. */
  public imageReference(repository: string, digest: string): string {
    if (!isRepositoryPath(repository)) {
      invalid('repository', 'must be a lowercase repository path such as "team/app"', repository);
    }
    // The reference grammar reads a first component with a "." as a registry host.
    const first = repository.split('/')[0];
    if (first.includes('.') || first === 'localhost') {
      invalid('repository', `must be a path inside this registry, without a host: the reference is "${this.host}/<repository>@<digest>" (its first component must not contain "." or be "localhost")`, repository);
    }
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
      invalid('digest', 'must be "sha256:" followed by 64 lowercase hex characters', digest);
    }
    return `${this.host}/${repository}@${digest}`;
  }

  private addRegistryContainer(name: string, port: number, htpasswd: HtpasswdFile, shared: SharedContainerParts): void {
    const probe = (failureThreshold: number) => kplus.Probe.fromHttpGet('/', {
      port,
      scheme: kplus.ConnectionScheme.HTTPS,
      initialDelaySeconds: Duration.seconds(2),
      periodSeconds: Duration.seconds(10),
      timeoutSeconds: Duration.seconds(5),
      failureThreshold,
    });
    const writer = name === RegistryContainerNames.WRITER;
    const container = this.workload.addContainer({
      name,
      image: shared.image,
      // The digest pins the bytes, so a cached copy is always the right one.
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      ports: [{ name: writer ? 'https-push' : 'https', number: port, protocol: kplus.Protocol.TCP }],
      // `/` answers 200 without credentials (and 503 when the storage health check fails),
      // unlike `/v2/`, which answers 401 with auth on and would fail every probe.
      readiness: probe(3),
      liveness: probe(6),
      resources: shared.props.resources ?? {
        cpu: { request: kplus.Cpu.millis(100), limit: kplus.Cpu.units(1) },
        memory: { request: Size.mebibytes(128), limit: Size.mebibytes(512) },
      },
      securityContext: {
        ensureNonRoot: true,
        user: REGISTRY_USER_ID,
        group: REGISTRY_USER_ID,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        privileged: false,
      },
      // Only the writer accepts uploads, whose state the HTTP secret signs.
      envVariables: writer && shared.props.httpSecret
        ? { REGISTRY_HTTP_SECRET: kplus.EnvValue.fromSecretValue({ secret: shared.props.httpSecret, key: HTTP_SECRET_KEY }) }
        : undefined,
    });

    const volumeId = writer ? 'Writer' : 'Reader';
    container.mount(REGISTRY_PATHS.configDir, kplus.Volume.fromConfigMap(this, `${volumeId}ConfigVolume`, this.configMap, {
      name: `${name}-config`,
      items: { [`${name}.yml`]: { path: 'config.yml' } },
    }), { readOnly: true });
    container.mount(REGISTRY_PATHS.authDir, kplus.Volume.fromSecret(this, `${volumeId}HtpasswdVolume`, htpasswd.secret, {
      name: `${name}-htpasswd`,
      items: { [htpasswd.key]: { path: 'htpasswd' } },
    }), { readOnly: true });
    container.mount(REGISTRY_PATHS.tlsDir, shared.tls, { readOnly: true });
    // The reader cannot write, but a read-only mount makes sure even a bug in it cannot.
    container.mount(REGISTRY_PATHS.storage, shared.data, { readOnly: !writer });
    // The root filesystem is read-only; Go writes temporary files here.
    container.mount('/tmp', kplus.Volume.fromEmptyDir(this, `${volumeId}TmpVolume`, `${name}-tmp`, { sizeLimit: Size.mebibytes(64) }));
  }

  private addIngress(props: PrivateRegistryProps): kplus.Ingress {
    const className = props.ingressClassName ?? 'nginx';
    validateObjectName('ingressClassName', className);
    const annotations = props.ingressAnnotations ?? {
      ...INGRESS_NGINX_ANNOTATIONS,
      // The controller verifies the writer's certificate against the CA in the TLS Secret's
      // `ca.crt` (cert-manager CA issuers and the self-signed source write it; a Secret you
      // create must hold it), for a name the certificate covers. Without `ca.crt` ingress-nginx
      // refuses to route the location: it fails closed, never unverified.
      'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'on',
      'nginx.ingress.kubernetes.io/proxy-ssl-secret': `${this.namespace}/${this.tlsSecret.name}`,
      'nginx.ingress.kubernetes.io/proxy-ssl-name': this.pushServiceDnsNames[0],
      'nginx.ingress.kubernetes.io/proxy-ssl-server-name': 'on',
      'nginx.ingress.kubernetes.io/proxy-ssl-protocols': 'TLSv1.2 TLSv1.3',
    };
    return new kplus.Ingress(this, 'Ingress', {
      metadata: { name: this.name, annotations: { ...annotations } },
      className,
      rules: [{
        host: this.host,
        path: '/',
        pathType: kplus.HttpIngressPathType.PREFIX,
        backend: kplus.IngressBackend.fromService(this.pushService, { port: REGISTRY_SERVICE_PORT }),
      }],
      tls: [{ hosts: [this.host], secret: this.tlsSecret }],
    });
  }
}

/** What both registry containers share. */
interface SharedContainerParts {
  readonly image: string;
  readonly data: kplus.Volume;
  readonly tls: kplus.Volume;
  readonly props: PrivateRegistryProps;
}
