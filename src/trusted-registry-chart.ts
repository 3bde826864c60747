import { createHash } from 'crypto';
import { ApiObject, App, Chart, ChartProps } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { GrantPullOptions, PullAccess } from './access/pull-access';
import { PullCredentials } from './access/pull-credentials';
import { makeClusterScoped } from './cluster-scoped';
import { RegistryNetworkPolicy, RegistryNetworkPolicyOptions } from './network/registry-network-policy';
import { PolicyMode, TrustedImagePolicy } from './policy/trusted-image-policy';
import { PrivateRegistry, PrivateRegistryOptions } from './registry/private-registry';
import { SelfSignedRegistryCertificate } from './registry/registry-certificate';
import { CertManagerCertificate } from './tls/cert-manager-certificate';
import { NodeTrust, NodeTrustOptions } from './tls/node-trust';
import { UniqueObjectsCheck } from './unique-objects';
import { invalid, validateHost, validateNamespace, validateEnumMember, validateUnique } from './validation';
import { NAMESPACE_NAME_LABEL } from './well-known-labels';

/**
 * Namespaces every cluster has. Nobody can claim them by creating them, so the chart never
 * creates an exempt one; and the chart refuses them as its own: it labels its namespace to
 * enforce the restricted Pod Security Standard and the policy exempts it, which would break the
 * cluster's own components there (kube-*) or exempt every workload created without a namespace
 * (default).
 */
const SYSTEM_NAMESPACES: readonly string[] = ['default', 'kube-node-lease', 'kube-public', 'kube-system'];

/**
 * The registry's namespace as `TrustedRegistryChart` accepts it: a namespace name that is not one
 * of the cluster's own (`default`, `kube-system`, `kube-public`, `kube-node-lease`).
 */
export function validateChartNamespace(prop: string, value: string): string {
  validateNamespace(prop, value);
  if (SYSTEM_NAMESPACES.includes(value)) {
    invalid(prop, `must be a namespace of its own, not one of ${SYSTEM_NAMESPACES.map((n) => `"${n}"`).join(', ')}: the chart labels it to enforce the restricted Pod Security Standard and the admission policy exempts it`, value);
  }
  return value;
}

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
   * Exempt namespaces that exist already and are owned by something else (e.g. `cert-manager`
   * installed by Helm), which the chart therefore does not create. Every other exempt namespace
   * that is not a Kubernetes system namespace (`default`, `kube-node-lease`, `kube-public`,
   * `kube-system`) is created by the chart: an exempt namespace that does not exist can be
   * created by anyone allowed to create namespaces, who can then run any image in it.
   * @default [] - the chart creates every exempt non-system namespace
   */
  readonly externallyManagedNamespaces?: string[];

  /**
   * Acknowledges that the policy enforces in `kube-system`, when `exemptNamespaces` does not list
   * it (see `TrustedImagePolicyProps.enforceInKubeSystem`).
   * @default false
   */
  readonly enforceInKubeSystem?: boolean;

  /**
   * Namespace where cert-manager runs; with a `RegistryCertificate.fromCertManager()` certificate
   * in enforce mode, synth warns when the policy checks it (cert-manager's pods are refused when
   * recreated unless their images are mirrored into the registry).
   * @default 'cert-manager'
   */
  readonly certManagerNamespace?: string;

  /**
   * Whether the policy denies untrusted images or only warns and audits.
   * @default PolicyMode.ENFORCE
   */
  readonly policyMode?: PolicyMode;

  /**
   * Namespaces whose `default` ServiceAccount gets the registry's pull Secret (see `grantPull()`
   * for other ServiceAccounts). With credentials generated in the cluster the Secret is the
   * generated pull identity; otherwise a `kubernetes.io/dockerconfigjson` Secret named
   * `<registry name>-pull` must exist in the registry's namespace. System namespaces and the
   * namespaces the policy exempts are refused.
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
    const namespace = validateChartNamespace('namespace', props.namespace ?? TrustedRegistryChart.DEFAULT_NAMESPACE);
    super(scope, id, { ...props, namespace });
    const host = validateHost('host', props.host ?? TrustedRegistryChart.DEFAULT_HOST);
    const other = App.of(this).node.findAll().find((construct) => construct instanceof TrustedRegistryChart && construct !== this);
    if (other) {
      invalid('TrustedRegistryChart', `must be the only one in its app (its admission policy is one per cluster), got a second one at "${this.node.path}" besides "${other.node.path}": every pod must pass every ValidatingAdmissionPolicy, so two charts' policies would refuse each other's images; to trust several registries, use one TrustedImagePolicy with several 'trustedSources'`, id);
    }
    UniqueObjectsCheck.addTo(this);

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
    const mode = validateEnumMember('policyMode', props.policyMode ?? PolicyMode.ENFORCE, PolicyMode, 'PolicyMode');
    this.policy = new TrustedImagePolicy(this, 'Policy', {
      trustedSources: [host],
      exemptNamespaces,
      mode,
      enforceInKubeSystem: props.enforceInKubeSystem,
    });
    this.createExemptNamespaces(namespace, props);
    if (mode === PolicyMode.ENFORCE) {
      this.warnAboutDependencies(host, props);
    }

    const pullNamespaces = props.pullNamespaces ?? [];
    if (pullNamespaces.length > 0) {
      const credentials = this.registry.credentials ? undefined : PullCredentials.fromSecretName(`${this.registry.name}-pull`);
      // Named after the chart's namespace, not its construct path (the same in every install of the
      // default app), so that two installs do not replace each other's Role in a consumer namespace.
      const name = `${namespace}-pull-access`.length <= 54 ? `${namespace}-pull-access` : `pull-access-${createHash('sha256').update(namespace).digest('hex').slice(0, 12)}`;
      this.grantPull('PullAccess', { namespaces: pullNamespaces, serviceAccounts: ['default'], name, credentials });
    }
  }

  /**
   * Gives consumer namespaces pull access, as `PrivateRegistry.grantPull()` does, and refuses at
   * synth the namespaces the policy exempts (pods there need no credentials to be admitted).
   *
   * @param id construct id, unique among the registry's grants
   * @param options the namespaces, ServiceAccounts and credentials; the namespaces the policy
   *   exempts are added to `exemptNamespaces`
   */
  public grantPull(id: string, options: GrantPullOptions): PullAccess {
    const exemptNamespaces = [...new Set([...(options.exemptNamespaces ?? []), ...this.policy.exemptNamespaces])];
    return this.registry.grantPull(id, { ...options, exemptNamespaces });
  }

  /**
   * Creates (and so owns) every exempt namespace that no one else owns: not a system namespace,
   * not the chart's namespace (created above, or left to the admin with `createNamespace: false`)
   * and not declared in `externallyManagedNamespaces`.
   */
  private createExemptNamespaces(chartNamespace: string, props: TrustedRegistryChartProps): void {
    const external = props.externallyManagedNamespaces ?? [];
    external.forEach((name) => validateNamespace('externallyManagedNamespaces', name));
    validateUnique('externallyManagedNamespaces', external);
    for (const name of external) {
      if (!this.policy.exemptNamespaces.includes(name)) {
        invalid('externallyManagedNamespaces', `must list only exempt namespaces (${this.policy.exemptNamespaces.join(', ')})`, name);
      }
    }
    const owned = this.policy.exemptNamespaces.filter((name) =>
      !SYSTEM_NAMESPACES.includes(name) && name !== chartNamespace && !external.includes(name));
    if (owned.length === 0) {
      return;
    }
    const scope = new Construct(this, 'ExemptNamespaces');
    for (const name of owned) {
      makeClusterScoped(ApiObject.of(new kplus.Namespace(scope, name, { metadata: { name } })));
    }
  }

  /**
   * Warns about namespaces the chart's own features depend on that the enforcing policy checks:
   * their pods are refused when recreated unless their images were mirrored into the registry,
   * and then the registry's Ingress or certificates stop working.
   */
  private warnAboutDependencies(host: string, props: TrustedRegistryChartProps): void {
    const dependencies: Array<[string, string]> = [];
    // The NetworkPolicy names the ingress controller's namespace (by default ingress-nginx).
    const ingressNamespace = this.networkPolicy
      ? (props.networkPolicy?.ingressControllerNamespaceLabels ?? { [NAMESPACE_NAME_LABEL]: 'ingress-nginx' })[NAMESPACE_NAME_LABEL]
      : undefined;
    if (ingressNamespace !== undefined) {
      dependencies.push([ingressNamespace, "the ingress controller serving the registry's Ingress"]);
    }
    if (this.node.findAll().some((construct) => construct instanceof CertManagerCertificate)) {
      const certManagerNamespace = validateNamespace('certManagerNamespace', props.certManagerNamespace ?? 'cert-manager');
      dependencies.push([certManagerNamespace, "cert-manager, which issues and renews the registry's certificate"]);
    }
    for (const [namespace, what] of dependencies) {
      if (!this.policy.exemptNamespaces.includes(namespace)) {
        console.warn(`warning: ${this.node.path}: the policy enforces in namespace "${namespace}", where ${what} runs; `
          + `unless its images are already mirrored into ${host} and referenced by digest, its pods are refused when recreated. `
          + `Mirror them (trusted-registry preflight, then trusted-registry mirror) or add "${namespace}" to exemptNamespaces`);
      }
    }
  }
}
