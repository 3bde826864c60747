import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { validateCidr } from './cidr';
import * as k8s from '../../imports/k8s';
import { PrivateRegistry } from '../registry/private-registry';
import { REGISTRY_CONTAINER_PORT, REGISTRY_PUSH_CONTAINER_PORT } from '../registry/registry-config';
import { invalid, validateNamespace, validateObjectName, validateUnique } from '../validation';
import { NAMESPACE_NAME_LABEL } from '../well-known-labels';

/** Settings of `RegistryNetworkPolicy` other than its registry; `TrustedRegistryChartProps.networkPolicy`. */
export interface RegistryNetworkPolicyOptions {
  /**
   * Address ranges image pulls come from. Nodes pull (their container runtime connects to the
   * Service's ClusterIP from the host, not from a pod), so list the nodes' addresses, e.g. the
   * node subnet "10.0.0.0/16". Depending on the CNI, traffic from a node to a pod on another
   * node leaves with the node's address on the pod network (flannel.1, tunl0, cilium_host, ...):
   * list those addresses too (`ip -o addr` on a node shows them). IPv4 and IPv6; a single
   * address is "a.b.c.d/32" or "x::y/128".
   */
  readonly nodeCidrs: string[];

  /**
   * Labels of the ingress controller's namespace, allowed when the registry has an Ingress.
   * @default { 'kubernetes.io/metadata.name': 'ingress-nginx' }
   */
  readonly ingressControllerNamespaceLabels?: Record<string, string>;

  /**
   * Namespaces whose pods may reach the push path (`pushService`) directly, e.g. where CI pushes
   * images from.
   * @default [] - none
   */
  readonly pushNamespaces?: string[];

  /**
   * Name of the NetworkPolicy.
   * @default - the registry's name
   */
  readonly name?: string;
}

/** Props of `RegistryNetworkPolicy`. */
export interface RegistryNetworkPolicyProps extends RegistryNetworkPolicyOptions {
  /** The registry whose pods the policy isolates. */
  readonly registry: PrivateRegistry;
}

/**
 * A NetworkPolicy for the registry's pods: the read-only pull port only from the nodes, the push
 * port only from the ingress controller's namespace (when there is an Ingress) and the namespaces
 * granted push access; no egress at all (filesystem storage needs none, and neither does DNS). Kubelet
 * probes come from the pod's own node, which CNIs generally allow regardless of policy.
 */
export class RegistryNetworkPolicy extends Construct {
  /** The NetworkPolicy. */
  public readonly resource: ApiObject;

  constructor(scope: Construct, id: string, props: RegistryNetworkPolicyProps) {
    super(scope, id);
    const registry = props.registry;
    const name = validateObjectName('name', props.name ?? registry.name);
    if (props.nodeCidrs.length === 0) {
      invalid('nodeCidrs', 'must list at least one range (nodes pull the images)', props.nodeCidrs);
    }
    props.nodeCidrs.forEach((cidr) => validateCidr('nodeCidrs', cidr));
    validateUnique('nodeCidrs', props.nodeCidrs);
    const pushNamespaces = props.pushNamespaces ?? [];
    pushNamespaces.forEach((namespace) => validateNamespace('pushNamespaces', namespace));
    validateUnique('pushNamespaces', pushNamespaces);
    const ingressLabels = props.ingressControllerNamespaceLabels ?? { [NAMESPACE_NAME_LABEL]: 'ingress-nginx' };
    if (Object.keys(ingressLabels).length === 0) {
      invalid('ingressControllerNamespaceLabels', 'must not be empty (an empty selector matches every namespace)', ingressLabels);
    }

    const pushFrom: k8s.NetworkPolicyPeer[] = [
      ...(registry.ingress ? [{ namespaceSelector: { matchLabels: { ...ingressLabels } } }] : []),
      ...(pushNamespaces.length > 0
        ? [{ namespaceSelector: { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: 'In', values: [...pushNamespaces] }] } }]
        : []),
    ];
    this.resource = new k8s.KubeNetworkPolicy(this, 'Resource', {
      metadata: { name },
      spec: {
        podSelector: { matchLabels: registry.workload.matchLabels },
        // Egress listed without rules: the pods may open no connection at all.
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          {
            from: props.nodeCidrs.map((cidr) => ({ ipBlock: { cidr } })),
            ports: [{ port: k8s.IntOrString.fromNumber(REGISTRY_CONTAINER_PORT), protocol: 'TCP' }],
          },
          // A rule without peers would admit everyone, so none when nothing may push directly.
          ...(pushFrom.length > 0
            ? [{ from: pushFrom, ports: [{ port: k8s.IntOrString.fromNumber(REGISTRY_PUSH_CONTAINER_PORT), protocol: 'TCP' }] }]
            : []),
        ],
      },
    });
  }
}
