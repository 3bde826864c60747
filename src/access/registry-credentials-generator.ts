import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { GENERATE_CREDENTIALS_SCRIPT, GENERATION_ANNOTATION, MAX_GENERATION, WRITE_CREDENTIALS_SCRIPT } from './credentials-scripts';
import { HTPASSWD_BCRYPT_COST } from './htpasswd';
import { HtpasswdKeys } from './htpasswd-secret';
import { IPullCredentials } from './pull-credentials';
import { SecretWritePolicy, WritableSecret } from './secret-write-policy';
import { API_ACCESS_MOUNT, API_ACCESS_VOLUME, kubectlScriptContainer, RESTRICTED_POD_SECURITY_CONTEXT, scriptContainer, SHELL_VOLUME, shellInitContainer, shortHash, TMP_VOLUME } from './restricted-pod';
import * as k8s from '../../imports/k8s';
import { Images } from '../images';
import { invalid, isDnsLabel, requireChartNamespace, validateHost, validateInteger, validateObjectName, validatePinnedImage, validateUnique } from '../validation';

/** Where the generated files live: a memory-backed volume shared by the two containers only. */
const CREDENTIALS_DIR = '/credentials';

/**
 * Settings of `RegistryCredentialsGenerator` that the registry does not fix; the options of
 * `HtpasswdSource.generated()`.
 */
export interface RegistryCredentialsGeneratorOptions {
  /**
   * The credentials' generation: an integer from 1 to `MAX_GENERATION` (15 digits). Raising it rotates both passwords: a new
   * Job replaces the htpasswd Secret and both `kubernetes.io/dockerconfigjson` Secrets together.
   * Lowering it is refused by the Job, so an old revision of the chart cannot roll credentials back.
   * @default 1
   */
  readonly generation?: number;

  /**
   * Name of the `kubernetes.io/dockerconfigjson` Secret of the push identity, for CI.
   * @default '<name>-push'
   */
  readonly pushSecretName?: string;

  /**
   * Name of the `kubernetes.io/dockerconfigjson` Secret of the pull identity, the one
   * `PullAccess` copies into consumer namespaces.
   * @default '<name>-pull'
   */
  readonly pullSecretName?: string;

  /**
   * User name of the push identity.
   * @default 'push'
   */
  readonly pushUsername?: string;

  /**
   * User name of the pull identity.
   * @default 'pull'
   */
  readonly pullUsername?: string;

  /**
   * Image providing `sh` and Apache `htpasswd`; must be pinned by digest.
   * @default Images.HTPASSWD
   */
  readonly htpasswdImage?: string;

  /**
   * Image providing `kubectl` in `/bin`, `/usr/bin` or `/usr/local/bin`; must be pinned by
   * digest. It needs no shell: the script runs with the one of `shellImage`.
   * @default Images.KUBECTL
   */
  readonly kubectlImage?: string;

  /**
   * Image whose `/bin/busybox` is a statically linked BusyBox, copied into the kubectl container
   * as its shell; must be pinned by digest.
   * @default Images.SHELL
   */
  readonly shellImage?: string;
}

/** Props of `RegistryCredentialsGenerator`. */
export interface RegistryCredentialsGeneratorProps extends RegistryCredentialsGeneratorOptions {
  /** The registry host the `kubernetes.io/dockerconfigjson` Secrets authenticate to. */
  readonly host: string;

  /**
   * Base name of the Job, ServiceAccount, Role, RoleBinding and default Secret names.
   * @default 'registry'
   */
  readonly name?: string;

  /**
   * Name of the htpasswd Secret the registry mounts: the push user under `HtpasswdKeys.PUSH`
   * (the writer's file), the pull user under `HtpasswdKeys.PULL` (the read-only path's file).
   * @default '<name>-htpasswd'
   */
  readonly htpasswdSecretName?: string;
}

/**
 * Credentials nobody has to know: a Job in the registry's namespace that generates two random
 * passwords (24 bytes from `/dev/urandom` each) and writes
 *
 * - the registry's htpasswd Secret with two files (bcrypt, cost `HTPASSWD_BCRYPT_COST`): the
 *   push user under `HtpasswdKeys.PUSH` (the writer's) and the pull user under
 *   `HtpasswdKeys.PULL` (the read-only path's),
 * - a `kubernetes.io/dockerconfigjson` Secret for the PUSH identity (give it to CI only),
 * - a `kubernetes.io/dockerconfigjson` Secret for the PULL identity (copied into consumer
 *   namespaces by `PullAccess`).
 *
 * It writes them only when they are absent or of an older `generation`, so running it again
 * changes nothing. The passwords exist only in a memory-backed volume of the Job's pod and in the
 * Secrets: never in synthesized YAML, logs, command-line arguments or environment variables.
 *
 * The pull identity cannot write: `PrivateRegistry` authenticates it only on its read-only
 * registry process, and the writer's htpasswd file holds the push identity alone.
 */
export class RegistryCredentialsGenerator extends Construct implements IPullCredentials {
  /**
   * How long the Job may run, retries included, before Kubernetes stops it. One run takes
   * seconds (two bcrypt hashes at cost 4 and six API calls); ten minutes leaves room for image
   * pulls and retries without leaving a stuck Job running for ever.
   */
  public static readonly ACTIVE_DEADLINE_SECONDS = 600;

  /** The Job that writes the Secrets; its name changes with the generation. */
  public readonly job: ApiObject;
  /** The ServiceAccount the Job runs as. */
  public readonly serviceAccount: ApiObject;
  /** The admission policy that lets the ServiceAccount write its three Secrets and nothing else. */
  public readonly secretWritePolicy: SecretWritePolicy;
  /** The registry host of the `kubernetes.io/dockerconfigjson` Secrets. */
  public readonly host: string;
  /** The namespace the Job and the Secrets are in (the chart's). */
  public readonly namespace: string;
  /** The credentials' generation. */
  public readonly generation: number;
  /** Name of the htpasswd Secret (keys `HtpasswdKeys.PUSH` and `HtpasswdKeys.PULL`). */
  public readonly htpasswdSecretName: string;
  /** Name of the push identity's `kubernetes.io/dockerconfigjson` Secret. */
  public readonly pushSecretName: string;
  /** Name of the pull identity's `kubernetes.io/dockerconfigjson` Secret. */
  public readonly pullSecretName: string;
  // Optional as in IPullCredentials (jsii needs the same optionality); always set here.
  /** The namespace of the pull Secret (the generator's). */
  public readonly pullSecretNamespace?: string;
  /** The generation the pull Secret must reach before `PullAccess` copies it. */
  public readonly pullSecretGeneration?: number;
  /** User name of the push identity. */
  public readonly pushUsername: string;
  /** User name of the pull identity. */
  public readonly pullUsername: string;

  constructor(scope: Construct, id: string, props: RegistryCredentialsGeneratorProps) {
    super(scope, id);
    this.host = validateHost('host', props.host);
    const name = validateObjectName('name', props.name ?? 'registry');
    const namespace = requireChartNamespace(this, 'its Job writes Secrets there');
    this.namespace = namespace;
    this.pullSecretNamespace = namespace;
    this.generation = validateInteger('generation', props.generation ?? 1, 1, MAX_GENERATION);
    this.pullSecretGeneration = this.generation;
    this.htpasswdSecretName = validateObjectName('htpasswdSecretName', props.htpasswdSecretName ?? `${name}-htpasswd`);
    this.pushSecretName = validateObjectName('pushSecretName', props.pushSecretName ?? `${name}-push`);
    this.pullSecretName = validateObjectName('pullSecretName', props.pullSecretName ?? `${name}-pull`);
    validateUnique('Secret names', [this.htpasswdSecretName, this.pushSecretName, this.pullSecretName]);
    this.pushUsername = validateUsername('pushUsername', props.pushUsername ?? 'push');
    this.pullUsername = validateUsername('pullUsername', props.pullUsername ?? 'pull');
    validateUnique('user names', [this.pushUsername, this.pullUsername]);
    const htpasswdImage = validatePinnedImage('htpasswdImage', props.htpasswdImage ?? Images.HTPASSWD);
    const kubectlImage = validatePinnedImage('kubectlImage', props.kubectlImage ?? Images.KUBECTL);
    const shellImage = validatePinnedImage('shellImage', props.shellImage ?? Images.SHELL);

    const objectName = `${name}-credentials`;
    this.serviceAccount = new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { name: objectName },
      automountServiceAccountToken: false,
    });
    const dockerConfig = (secretName: string): WritableSecret => ({ namespace, name: secretName, type: 'kubernetes.io/dockerconfigjson', keys: ['.dockerconfigjson'] });
    this.secretWritePolicy = new SecretWritePolicy(this, 'SecretWritePolicy', {
      serviceAccountName: objectName,
      secrets: [
        { namespace, name: this.htpasswdSecretName, type: 'Opaque', keys: [HtpasswdKeys.PUSH, HtpasswdKeys.PULL] },
        dockerConfig(this.pushSecretName),
        dockerConfig(this.pullSecretName),
      ],
    });
    new k8s.KubeRole(this, 'Role', {
      metadata: { name: objectName },
      rules: [
        // RBAC cannot limit `create` by resourceNames (the authorizer does not see the name of
        // an object being created): SecretWritePolicy refuses every other name, type and key.
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
        {
          apiGroups: [''],
          resources: ['secrets'],
          resourceNames: [this.htpasswdSecretName, this.pushSecretName, this.pullSecretName],
          verbs: ['get', 'update'],
        },
      ],
    });
    new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata: { name: objectName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: objectName },
      subjects: [{ kind: 'ServiceAccount', name: objectName, namespace }],
    });

    const credentialsMount: k8s.VolumeMount = { name: 'credentials', mountPath: CREDENTIALS_DIR };
    const template: k8s.PodTemplateSpec = {
      metadata: { annotations: { [GENERATION_ANNOTATION]: String(this.generation) } },
      spec: {
        serviceAccountName: objectName,
        // Only the kubectl container gets the token (see API_ACCESS_VOLUME): the init container
        // runs a third-party image and has no business with the API.
        automountServiceAccountToken: false,
        restartPolicy: 'Never',
        securityContext: RESTRICTED_POD_SECURITY_CONTEXT,
        initContainers: [shellInitContainer(shellImage), scriptContainer('generate', htpasswdImage, GENERATE_CREDENTIALS_SCRIPT, {
          CREDENTIALS_DIR,
          REGISTRY_HOST: this.host,
          PUSH_USERNAME: this.pushUsername,
          PULL_USERNAME: this.pullUsername,
          BCRYPT_COST: String(HTPASSWD_BCRYPT_COST),
        }, [credentialsMount])],
        containers: [kubectlScriptContainer('write', kubectlImage, WRITE_CREDENTIALS_SCRIPT, {
          CREDENTIALS_DIR,
          HOME: '/tmp',
          NAMESPACE: namespace,
          GENERATION: String(this.generation),
          HTPASSWD_SECRET: this.htpasswdSecretName,
          HTPASSWD_PUSH_KEY: HtpasswdKeys.PUSH,
          HTPASSWD_PULL_KEY: HtpasswdKeys.PULL,
          PUSH_SECRET: this.pushSecretName,
          PULL_SECRET: this.pullSecretName,
        }, [credentialsMount, { name: TMP_VOLUME.name, mountPath: '/tmp' }, API_ACCESS_MOUNT])],
        volumes: [
          // Memory-backed: the passwords never touch a node's disk and vanish with the pod.
          { name: 'credentials', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('1Mi') } },
          TMP_VOLUME,
          SHELL_VOLUME,
          API_ACCESS_VOLUME,
        ],
      },
    };

    const jobName = `${objectName}-${this.generation}-${shortHash(template)}`;
    if (!isDnsLabel(jobName)) {
      invalid('name', `must be short enough for the Job name "${jobName}" to be a DNS label (at most 63 characters)`, name);
    }
    this.job = new k8s.KubeJob(this, 'Resource', {
      metadata: { name: jobName, annotations: { [GENERATION_ANNOTATION]: String(this.generation) } },
      spec: { backoffLimit: 6, activeDeadlineSeconds: RegistryCredentialsGenerator.ACTIVE_DEADLINE_SECONDS, template },
    });
  }
}

/** User names end up in htpasswd, JSON and shell; this subset is safe in all three. */
function validateUsername(prop: string, value: string): string {
  if (!/^[a-z0-9]([-a-z0-9._]{0,62}[a-z0-9])?$/.test(value)) {
    invalid(prop, 'must be 1 to 64 lowercase letters, digits, "-", "." or "_", starting and ending with a letter or digit', value);
  }
  return value;
}
