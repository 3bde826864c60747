/**
 * The label Kubernetes sets on every namespace to its name (since 1.22): what namespace
 * selectors of policy bindings and NetworkPolicies match a namespace by name with.
 */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
