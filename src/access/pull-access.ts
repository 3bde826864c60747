import { ApiObject, Names } from 'cdk8s';
import { Construct } from 'constructs';
import { COPY_PULL_SECRET_SCRIPT, GENERATION_ANNOTATION } from './credentials-scripts';
import { IPullCredentials } from './pull-credentials';
import { SecretWritePolicy } from './secret-write-policy';
import { API_ACCESS_MOUNT, API_ACCESS_VOLUME, kubectlScriptContainer, RESTRICTED_POD_SECURITY_CONTEXT, SHELL_VOLUME, shellInitContainer, shortHash, TMP_VOLUME } from './restricted-pod';
import * as k8s from '../../imports/k8s';
import { Images } from '../images';
import { invalid, isDnsLabel, requireChartNamespace, validateNamespace, validateObjectName, validatePinnedImage, validateUnique } from '../validation';

/** The label on every object of a `PullAccess`, valued with its base name. */
export const PULL_ACCESS_LABEL = 'cdk8s-trusted-registry/pull-access';

/** Where the copy Job keeps the decoded pull credentials and the manifests it writes. */
const WORK_DIR = '/work';

/** Memory-backed: the decoded credentials never touch a node's disk and vanish with the pod. */
const WORK_VOLUME: k8s.Volume = { name: 'work', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('1Mi') } };

/** How long the copy Job waits for the generator to write the pull Secret. */
export const PULL_SECRET_WAIT_SECONDS = 300;

/** Options of `PrivateRegistry.grantPull()`; `PullAccessProps` without what the registry knows. */
export interface PullAccessOptions {
  /** The namespaces that get the pull Secret; at least one, each once. They must exist. */
  readonly namespaces: string[];

  /**
   * ServiceAccounts, in every one of `namespaces`, whose `imagePullSecrets` get the Secret, so
   * that their pods pull without listing it. Use `['default']` for pods that name no
   * ServiceAccount. Each must exist when the Job runs; other entries of their list are kept.
   * @default [] - pods list the Secret themselves (see `PullAccess.imagePullSecrets`)
   */
  readonly serviceAccounts?: string[];

  /**
   * Name of the Secret in the consumer namespaces.
   * @default - the name of the pull Secret in the registry's namespace
   */
  readonly secretName?: string;

  /**
   * Namespaces the admission policy does not check (`TrustedRegistryChartProps.exemptNamespaces`).
   * Granting pull access to one of them is refused, as it is for `kube-system`, `kube-public`,
   * `kube-node-lease` and the registry's own namespace: pods there need no credentials to be
   * admitted, and a Job able to write Secrets there is a door into the cluster's own components.
   * @default []
   */
  readonly exemptNamespaces?: string[];

  /**
   * Base name of the Job, ServiceAccount, Roles and RoleBindings, at most 54 characters.
   * @default - derived from the construct path
   */
  readonly name?: string;

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

/** Options of `grantPull()`: what to grant, and with which credentials. */
export interface GrantPullOptions extends PullAccessOptions {
  /**
   * The pull Secret in the registry's namespace, e.g. `PullCredentials.fromSecretName()`.
   * @default - the registry's generated pull identity (`htpasswd: HtpasswdSource.generated()`);
   * required when the registry has none
   */
  readonly credentials?: IPullCredentials;
}

/** A Secret a pod lists in its spec's `imagePullSecrets`. */
export interface ImagePullSecret {
  /** Name of the Secret, in the pod's namespace. */
  readonly name: string;
}

/** Props of `PullAccess`. */
export interface PullAccessProps extends PullAccessOptions {
  /**
   * The pull credentials: a `RegistryCredentialsGenerator`, or a Secret you made in this chart's
   * namespace, imported with `PullCredentials.fromSecretName()`.
   */
  readonly credentials: IPullCredentials;
}

/**
 * Pull access to the registry for consumer namespaces. A Job in the chart's namespace copies
 * the pull Secret into every namespace and adds it to the `imagePullSecrets` of the named
 * ServiceAccounts, so no password is synthesized. It may write only that one Secret and patch
 * only those ServiceAccounts: a Role and RoleBinding in each consumer namespace say so, and a
 * `SecretWritePolicy` holds it to that Secret's name, type and key (which RBAC cannot do for
 * `create`) and to adding that one `imagePullSecrets` entry.
 *
 * The Job runs again (under a new name) whenever the namespaces, ServiceAccounts or the
 * credentials' generation change; copies already equal to the source are left alone. Removing a
 * namespace from the list removes its Role and RoleBinding but not its copy of the Secret.
 */
export class PullAccess extends Construct {
  /**
   * How long the copy Job may run, retries included, before Kubernetes stops it: the wait for the
   * pull Secret (`PULL_SECRET_WAIT_SECONDS`) plus ten minutes for the copies.
   */
  public static readonly ACTIVE_DEADLINE_SECONDS = PULL_SECRET_WAIT_SECONDS + 600;

  /** Namespaces of the cluster's own components, never granted pull access. */
  public static readonly SYSTEM_NAMESPACES: string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

  /** Name of the `kubernetes.io/dockerconfigjson` Secret in every consumer namespace. */
  public readonly secretName: string;
  /** The consumer namespaces. */
  public readonly namespaces: string[];
  /**
   * What a pod in a consumer namespace adds to its spec's `imagePullSecrets` when its
   * ServiceAccount does not list the Secret; with cdk8s-plus, use
   * `dockerRegistryAuth: kplus.Secret.fromSecretName(scope, id, access.secretName)`.
   */
  public readonly imagePullSecrets: ImagePullSecret[];
  /** The Job that copies the Secret; its name changes whenever what it does changes. */
  public readonly job: ApiObject;
  /** The ServiceAccount the Job runs as. */
  public readonly serviceAccount: ApiObject;
  /**
   * The admission policy that lets the ServiceAccount write only the copies (name, type and key)
   * and add only them to the listed ServiceAccounts' `imagePullSecrets`.
   */
  public readonly secretWritePolicy: SecretWritePolicy;

  constructor(scope: Construct, id: string, props: PullAccessProps) {
    super(scope, id);
    const jobNamespace = requireChartNamespace(this, 'its Job runs there');
    const sourceNamespace = props.credentials.pullSecretNamespace ?? jobNamespace;
    if (props.namespaces.length === 0) {
      invalid('namespaces', 'must list at least one namespace', props.namespaces);
    }
    props.namespaces.forEach((namespace) => validateNamespace('namespaces[]', namespace));
    validateUnique('namespaces', props.namespaces);
    const serviceAccounts = props.serviceAccounts ?? [];
    serviceAccounts.forEach((serviceAccount) => validateObjectName('serviceAccounts[]', serviceAccount));
    validateUnique('serviceAccounts', serviceAccounts);
    this.secretName = validateObjectName('secretName', props.secretName ?? props.credentials.pullSecretName);
    const kubectlImage = validatePinnedImage('kubectlImage', props.kubectlImage ?? Images.KUBECTL);
    const shellImage = validatePinnedImage('shellImage', props.shellImage ?? Images.SHELL);
    const name = props.name ?? Names.toDnsLabel(this, { maxLen: 54 });
    if (!isDnsLabel(name) || name.length > 54) {
      invalid('name', 'must be a DNS label of at most 54 characters (the Job adds a 9-character suffix)', name);
    }

    const refused = new Set([...PullAccess.SYSTEM_NAMESPACES, jobNamespace, sourceNamespace, ...(props.exemptNamespaces ?? [])]);
    for (const namespace of props.namespaces.filter((n) => refused.has(n))) {
      invalid('namespaces', `must not include "${namespace}": it is a system namespace, the registry's own or one the admission policy exempts (${[...refused].join(', ')}); pods there need no pull Secret to be admitted, and letting a Job write Secrets there opens a door into the cluster's own components`, props.namespaces);
    }

    this.namespaces = [...props.namespaces];
    this.imagePullSecrets = [{ name: this.secretName }];
    const labels = { [PULL_ACCESS_LABEL]: name };

    this.serviceAccount = new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { name, labels },
      automountServiceAccountToken: false,
    });
    const subjects: k8s.Subject[] = [{ kind: 'ServiceAccount', name, namespace: jobNamespace }];
    this.addRole('Source', sourceNamespace, `${name}-source`, labels, subjects, [
      { apiGroups: [''], resources: ['secrets'], resourceNames: [props.credentials.pullSecretName], verbs: ['get'] },
    ]);
    this.secretWritePolicy = new SecretWritePolicy(this, 'SecretWritePolicy', {
      serviceAccountName: name,
      secrets: props.namespaces.map((namespace) => ({ namespace, name: this.secretName, type: 'kubernetes.io/dockerconfigjson', keys: ['.dockerconfigjson'] })),
      imagePullSecretGrant: serviceAccounts.length > 0 ? { namespaces: props.namespaces, serviceAccounts, secretName: this.secretName } : undefined,
    });
    const targetRules: k8s.PolicyRule[] = [
      // RBAC cannot limit `create` by resourceNames (the authorizer does not see the name of an
      // object being created): SecretWritePolicy refuses every other name, type and key.
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: [this.secretName], verbs: ['get', 'update'] },
      ...(serviceAccounts.length > 0
        ? [{ apiGroups: [''], resources: ['serviceaccounts'], resourceNames: serviceAccounts, verbs: ['get', 'patch'] }]
        : []),
    ];
    for (const namespace of props.namespaces) {
      this.addRole(`Target-${namespace}`, namespace, name, labels, subjects, targetRules);
    }

    const generation = props.credentials.pullSecretGeneration;
    const template: k8s.PodTemplateSpec = {
      metadata: {
        labels,
        annotations: generation === undefined ? undefined : { [GENERATION_ANNOTATION]: String(generation) },
      },
      spec: {
        serviceAccountName: name,
        // Only the kubectl container gets the token (see API_ACCESS_VOLUME), not the shell's.
        automountServiceAccountToken: false,
        restartPolicy: 'Never',
        securityContext: RESTRICTED_POD_SECURITY_CONTEXT,
        initContainers: [shellInitContainer(shellImage)],
        containers: [kubectlScriptContainer('copy', kubectlImage, COPY_PULL_SECRET_SCRIPT, {
          HOME: '/tmp',
          SOURCE_NAMESPACE: sourceNamespace,
          SOURCE_SECRET: props.credentials.pullSecretName,
          SOURCE_GENERATION: generation === undefined ? '' : String(generation),
          SOURCE_WAIT_SECONDS: String(PULL_SECRET_WAIT_SECONDS),
          TARGET_SECRET: this.secretName,
          TARGETS: props.namespaces.map((namespace) => [namespace, ...serviceAccounts].join(' ')).join('\n'),
          WORK_DIR,
        }, [{ name: TMP_VOLUME.name, mountPath: '/tmp' }, { name: WORK_VOLUME.name, mountPath: WORK_DIR }, API_ACCESS_MOUNT])],
        volumes: [TMP_VOLUME, WORK_VOLUME, SHELL_VOLUME, API_ACCESS_VOLUME],
      },
    };
    this.job = new k8s.KubeJob(this, 'Resource', {
      metadata: { name: `${name}-${shortHash(template)}`, labels },
      spec: { backoffLimit: 6, activeDeadlineSeconds: PullAccess.ACTIVE_DEADLINE_SECONDS, template },
    });
  }

  private addRole(id: string, namespace: string, name: string, labels: Record<string, string>, subjects: k8s.Subject[], rules: k8s.PolicyRule[]): void {
    new k8s.KubeRole(this, `${id}Role`, { metadata: { name, namespace, labels }, rules });
    new k8s.KubeRoleBinding(this, `${id}RoleBinding`, {
      metadata: { name, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects,
    });
  }
}
