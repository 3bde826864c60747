import { ApiObject, JsonPatch } from 'cdk8s';

/**
 * Removes the namespace a Chart gives every object from a cluster-scoped one (Namespace,
 * admission policies, ClusterIssuers...), where the field is meaningless and GitOps tools
 * report drift or refuse it.
 */
export function makeClusterScoped(apiObject: ApiObject): void {
  if (apiObject.metadata.namespace !== undefined) {
    apiObject.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  }
}
