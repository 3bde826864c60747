import { ApiObject, JsonPatch } from 'cdk8s';
import { UniqueObjectsCheck } from './unique-objects';

/**
 * Removes the namespace a Chart gives every object from a cluster-scoped one (Namespace,
 * admission policies, ClusterIssuers...), where the field is meaningless and GitOps tools
 * report drift or refuse it. Its name is then global to the cluster, so the app is checked for
 * duplicates (`UniqueObjectsCheck`).
 */
export function makeClusterScoped(apiObject: ApiObject): void {
  UniqueObjectsCheck.addTo(apiObject);
  if (apiObject.metadata.namespace !== undefined) {
    apiObject.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  }
}
