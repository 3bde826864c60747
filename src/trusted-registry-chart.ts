import { ApiObject, Chart, ChartProps } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { PullAccess, PullAccessOptions } from './access/pull-access';
import { IPullCredentials, PullCredentials } from './access/pull-credentials';
import { makeClusterScoped } from './cluster-scoped';
import { RegistryNetworkPolicy, RegistryNetworkPolicyProps } from './network/registry-network-policy';
import { PolicyMode, TrustedImagePolicy } from './policy/trusted-image-policy';
import { PrivateRegistry, PrivateRegistryProps } from './registry/private-registry';
import { SelfSignedRegistryCertificate } from './registry/registry-certificate';
import { NodeTrust, NodeTrustProps } from './tls/node-trust';
import { invalid, validateHost, validateNamespace } from './validation';

/** The host of the default app's registry. */
export const DEFAULT_HOST = 'registry.mycorp.local';

/** The namespace of the default app's registry. */
export const DEFAULT_NAMESPACE = 'registry';

/**
 * Namespaces the chart refuses as its own: it labels its namespace to enforce the restricted Pod
 * Security Standard and the policy exempts it, which would break the cluster's own components
 * there (kube-*) or exempt every workload created without a namespace (default).
 */
const RESERVED_NAMESPACES: readonly string[] = ['default', 'kube-node-lease', 'kube-public', 'kube-system'];

/**
 * The registry's namespace as `TrustedRegistryChart` accepts it: a namespace name that is not one
 * of the cluster's own (`default`, `kube-system`, `kube-public`, `kube-node-lease`).
 */
export function validateChartNamespace(prop: string, value: string): string {
  validateNamespace(prop, value);
  if (RESERVED_NAMESPACES.includes(value)) {
    invalid(prop, `must be a namespace of its own, not one of ${RESERVED_NAMESPACES.map((n) => `"${n}"`).join(', ')}: the chart labels it to enforce the restricted Pod Security Standard and the admission policy exempts it`, value);
  }
  return value;
}

/** Props of `TrustedRegistryChart`. */
export interface TrustedRegistryChartProps extends Omit<ChartProps, 'namespace'> {
  /**
   * The registry's DNS name, the only source the admission policy trusts.
   * @default DEFAULT_HOST ('registry.mycorp.local')
   */
  readonly host?: string;

  /**
   * Namespace of the registry and every namespaced object of the chart.
   * @default DEFAULT_NAMESPACE ('registry')
   */
  readonly namespace?: string;

  /**
   * Whether to create the namespace, labelled to enforce the restricted Pod Security Standard.
   * @default true
   */
  readonly createNamespace?: boolean;

  /**
   * Further settings of the registry.
   * @default - the `PrivateRegistry` defaults
   */
  readonly registry?: Omit<PrivateRegistryProps, 'host'>;

  /**
   * Namespaces the admission policy does not check, besides the registry's own namespace (always
   * exempt, so the registry can start before it holds any image).
   * @default ['kube-system']
   */
  readonly exemptNamespaces?: string[];

  /**
   * Whether the policy denies untrusted images or only warns and audits.
   * @default PolicyMode.ENFORCE
   */
  readonly policyMode?: PolicyMode;

  /**
   * Namespaces whose `default` ServiceAccount gets the registry's pull Secret (see `grantPull()`
   * for other ServiceAccounts). With credentials generated in the cluster the Secret is the
   * generated pull identity; otherwise a `kubernetes.io/dockerconfigjson` Secret named
   * `<registry name>-pull` must exist in the registry's namespace.
   * @default [] - no namespace is granted pull access
   */
  readonly pullNamespaces?: string[];

  /**
   * Deploys `NodeTrust`, so that every node trusts the registry's certificate and resolves its
   * host (it changes files on the nodes: see the README, "Trusting the registry from every
   * node"). Its namespace is added to the policy's exemptions. With a `RegistryCertificate.selfSigned()` certificate and no CA given,
   * the nodes trust that certificate.
   * @default - no NodeTrust
   */
  readonly nodeTrust?: Omit<NodeTrustProps, 'registry'>;

  /**
   * Isolates the registry's pods with a `RegistryNetworkPolicy`.
   * @default - no NetworkPolicy
   */
  readonly networkPolicy?: Omit<RegistryNetworkPolicyProps, 'registry'>;
}

/**
 * The whole product in one chart: a namespace, the private registry, and the admission policy
 * that admits only images pinned by digest from that registry.
 */
export class TrustedRegistryChart extends Chart {
  /** The private registry. */
  public readonly registry: PrivateRegistry;
  /** The admission policy and its binding. */
  public readonly policy: TrustedImagePolicy;
  /** The DaemonSet making nodes trust the registry, when `nodeTrust` is set. */
  public readonly nodeTrust?: NodeTrust;
  /** The registry's NetworkPolicy, when `networkPolicy` is set. */
  public readonly networkPolicy?: RegistryNetworkPolicy;

  constructor(scope: Construct, id: string, props: TrustedRegistryChartProps = {}) {
    const namespace = validateChartNamespace('namespace', props.namespace ?? DEFAULT_NAMESPACE);
    super(scope, id, { ...props, namespace });
    const host = validateHost('host', props.host ?? DEFAULT_HOST);

    if (props.createNamespace ?? true) {
      const namespaceObject = new kplus.Namespace(this, 'Namespace', {
        metadata: {
          name: namespace,
          labels: {
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/enforce-version': 'latest',
          },
        },
      });
      makeClusterScoped(ApiObject.of(namespaceObject));
    }

    this.registry = new PrivateRegistry(this, 'Registry', { ...props.registry, host });

    if (props.nodeTrust) {
      const certificate = props.registry?.certificate;
      const trustSelfSigned = certificate instanceof SelfSignedRegistryCertificate
        && props.nodeTrust.caCertificate === undefined && props.nodeTrust.caConfigMapName === undefined;
      this.nodeTrust = new NodeTrust(this, 'NodeTrust', {
        ...props.nodeTrust,
        caCertificate: trustSelfSigned ? certificate.certificatePem : props.nodeTrust.caCertificate,
        registry: this.registry,
      });
    }
    if (props.networkPolicy) {
      this.networkPolicy = new RegistryNetworkPolicy(this, 'NetworkPolicy', { ...props.networkPolicy, registry: this.registry });
    }

    // The registry's namespace (it starts before it holds any image) and NodeTrust's (its image
    // cannot come from the registry the nodes do not trust yet) are always exempt.
    const exemptNamespaces = [...(props.exemptNamespaces ?? ['kube-system'])];
    for (const required of [namespace, this.nodeTrust?.namespace]) {
      if (required !== undefined && !exemptNamespaces.includes(required)) {
        exemptNamespaces.push(required);
      }
    }
    this.policy = new TrustedImagePolicy(this, 'Policy', {
      trustedSources: [host],
      exemptNamespaces,
      mode: props.policyMode,
    });

    const pullNamespaces = props.pullNamespaces ?? [];
    if (pullNamespaces.length > 0) {
      const credentials = this.registry.credentials ? undefined : PullCredentials.fromSecretName(`${this.registry.name}-pull`);
      this.grantPull('PullAccess', { namespaces: pullNamespaces, serviceAccounts: ['default'] }, credentials);
    }
  }

  /**
   * Gives consumer namespaces pull access, as `PrivateRegistry.grantPull()` does, and warns at
   * synth about namespaces the policy exempts (pods there need no credentials to be admitted).
   *
   * @param id construct id, unique among the registry's grants
   * @param options the namespaces and ServiceAccounts
   * @param credentials the pull Secret in the registry's namespace
   * @default credentials - the generated pull identity (`registry: { htpasswd: HtpasswdSource.generated() }`)
   */
  public grantPull(id: string, options: Omit<PullAccessOptions, 'exemptNamespaces'>, credentials?: IPullCredentials): PullAccess {
    return this.registry.grantPull(id, { ...options, exemptNamespaces: this.policy.exemptNamespaces }, credentials);
  }
}
