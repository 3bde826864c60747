import { ApiObject, Names } from 'cdk8s';
import { Construct } from 'constructs';
import { COPY_PULL_SECRET_SCRIPT, GENERATION_ANNOTATION } from './credentials-scripts';
import { IPullCredentials } from './pull-credentials';
import { RESTRICTED_POD_SECURITY_CONTEXT, scriptContainer, shortHash, TMP_VOLUME } from './restricted-pod';
import * as k8s from '../../imports/k8s';
import { Images } from '../images';
import { invalid, isDnsLabel, requireChartNamespace, validateNamespace, validateObjectName, validatePinnedImage, validateUnique } from '../validation';

/** The label on every object of a `PullAccess`, valued with its base name. */
export const PULL_ACCESS_LABEL = 'cdk8s-trusted-registry/pull-access';

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
   * Granting pull access to one of them, or to the registry's own namespace, is pointless and
   * draws a synth-time warning.
   * @default []
   */
  readonly exemptNamespaces?: string[];

  /**
   * Base name of the Job, ServiceAccount, Roles and RoleBindings, at most 54 characters.
   * @default - derived from the construct path
   */
  readonly name?: string;

  /**
   * Image providing `sh` and `kubectl`; must be pinned by digest.
   * @default Images.KUBECTL
   */
  readonly kubectlImage?: string;
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
 * only those ServiceAccounts: a Role and RoleBinding in each consumer namespace say so.
 *
 * The Job runs again (under a new name) whenever the namespaces, ServiceAccounts or the
 * credentials' generation change; copies already equal to the source are left alone. Removing a
 * namespace from the list removes its Role and RoleBinding but not its copy of the Secret.
 */
export class PullAccess extends Construct {
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
    const name = props.name ?? Names.toDnsLabel(this, { maxLen: 54 });
    if (!isDnsLabel(name) || name.length > 54) {
      invalid('name', 'must be a DNS label of at most 54 characters (the Job adds a 9-character suffix)', name);
    }

    const exempt = new Set([sourceNamespace, ...(props.exemptNamespaces ?? [])]);
    for (const namespace of props.namespaces.filter((n) => exempt.has(n))) {
      // eslint-disable-next-line no-console
      console.warn(`warning: ${this.node.path}: pull access granted to namespace "${namespace}", which the admission policy does not check; pods there do not need this registry's credentials to be admitted, so the grant is pointless`);
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
    const targetRules: k8s.PolicyRule[] = [
      // Kubernetes cannot limit `create` by resourceNames: the authorizer does not see the name.
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
        automountServiceAccountToken: true,
        restartPolicy: 'Never',
        securityContext: RESTRICTED_POD_SECURITY_CONTEXT,
        containers: [scriptContainer('copy', kubectlImage, COPY_PULL_SECRET_SCRIPT, {
          HOME: '/tmp',
          SOURCE_NAMESPACE: sourceNamespace,
          SOURCE_SECRET: props.credentials.pullSecretName,
          SOURCE_GENERATION: generation === undefined ? '' : String(generation),
          SOURCE_WAIT_SECONDS: String(PULL_SECRET_WAIT_SECONDS),
          TARGET_SECRET: this.secretName,
          TARGETS: props.namespaces.map((namespace) => [namespace, ...serviceAccounts].join(' ')).join('\n'),
        }, [{ name: TMP_VOLUME.name, mountPath: '/tmp' }])],
        volumes: [TMP_VOLUME],
      },
    };
    this.job = new k8s.KubeJob(this, 'Resource', {
      metadata: { name: `${name}-${shortHash(template)}`, labels },
      spec: { backoffLimit: 6, template },
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
