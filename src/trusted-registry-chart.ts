import { ApiObject, Chart, ChartProps } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { GrantPullOptions, PullAccess } from './access/pull-access';
import { PullCredentials } from './access/pull-credentials';
import { makeClusterScoped } from './cluster-scoped';
import { RegistryNetworkPolicy, RegistryNetworkPolicyOptions } from './network/registry-network-policy';
import { PolicyMode, TrustedImagePolicy } from './policy/trusted-image-policy';
import { PrivateRegistry, PrivateRegistryOptions } from './registry/private-registry';
import { SelfSignedRegistryCertificate } from './registry/registry-certificate';
import { NodeTrust, NodeTrustOptions } from './tls/node-trust';
import { validateHost, validateNamespace } from './validation';

/**
 * Props of `TrustedRegistryChart`. Its `namespace` (from `ChartProps`) is the namespace of the
 * registry and of every namespaced object of the chart, `TrustedRegistryChart.DEFAULT_NAMESPACE`
 * ('registry') when not set.
 */
export interface TrustedRegistryChartProps extends ChartProps {
  /**
   * The registry's DNS name, the only source the admission policy trusts.
   * @default TrustedRegistryChart.DEFAULT_HOST ('registry.mycorp.local')
   */
  readonly host?: string;

  /**
   * Whether to create the namespace, labelled to enforce the restricted Pod Security Standard.
   * @default true
   */
  readonly createNamespace?: boolean;

  /**
   * Further settings of the registry.
   * @default - the `PrivateRegistry` defaults
   */
  readonly registry?: PrivateRegistryOptions;

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
  readonly nodeTrust?: NodeTrustOptions;

  /**
   * Isolates the registry's pods with a `RegistryNetworkPolicy`.
   * @default - no NetworkPolicy
   */
  readonly networkPolicy?: RegistryNetworkPolicyOptions;
}

/**
 * The whole product in one chart: a namespace, the private registry, and the admission policy
 * that admits only images pinned by digest from that registry.
 */
export class TrustedRegistryChart extends Chart {
  /** The host of the registry when `host` is not set. */
  public static readonly DEFAULT_HOST = 'registry.mycorp.local';
  /** The namespace of the chart when `namespace` is not set. */
  public static readonly DEFAULT_NAMESPACE = 'registry';

  /** The private registry. */
  public readonly registry: PrivateRegistry;
  /** The admission policy and its binding. */
  public readonly policy: TrustedImagePolicy;
  /** The DaemonSet making nodes trust the registry, when `nodeTrust` is set. */
  public readonly nodeTrust?: NodeTrust;
  /** The registry's NetworkPolicy, when `networkPolicy` is set. */
  public readonly networkPolicy?: RegistryNetworkPolicy;

  constructor(scope: Construct, id: string, props: TrustedRegistryChartProps = {}) {
    const namespace = validateNamespace('namespace', props.namespace ?? TrustedRegistryChart.DEFAULT_NAMESPACE);
    super(scope, id, { ...props, namespace });
    const host = validateHost('host', props.host ?? TrustedRegistryChart.DEFAULT_HOST);

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
      this.grantPull('PullAccess', { namespaces: pullNamespaces, serviceAccounts: ['default'], credentials });
    }
  }

  /**
   * Gives consumer namespaces pull access, as `PrivateRegistry.grantPull()` does, and warns at
   * synth about namespaces the policy exempts (pods there need no credentials to be admitted).
   *
   * @param id construct id, unique among the registry's grants
   * @param options the namespaces, ServiceAccounts and credentials; the namespaces the policy
   *   exempts are added to `exemptNamespaces`
   */
  public grantPull(id: string, options: GrantPullOptions): PullAccess {
    const exemptNamespaces = [...new Set([...(options.exemptNamespaces ?? []), ...this.policy.exemptNamespaces])];
    return this.registry.grantPull(id, { ...options, exemptNamespaces });
  }
}
