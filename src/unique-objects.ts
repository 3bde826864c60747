import { ApiObject, App } from 'cdk8s';
import { IConstruct } from 'constructs';

/**
 * Refuses, at synth, two objects of the whole app with the same API group, kind, namespace and
 * name: applied one after the other, the second silently replaces the first (two registries
 * named alike, two `TrustedImagePolicy` named `trusted-images`, two charts writing the same
 * object into a shared namespace...). Versions of a group count as one (`v1` and `v1beta1` of
 * an object are the same object), and the namespace of cluster-scoped kinds is ignored.
 *
 * Every construct of this library adds the check to its app; `UniqueObjectsCheck.addTo(app)`
 * adds it to an app that uses none of them.
 */
export class UniqueObjectsCheck {
  /**
   * Kinds (`<group>/<kind>`, core group empty) that have no namespace: an object of one is the
   * same object whatever namespace a Chart gave it.
   */
  public static readonly CLUSTER_SCOPED_KINDS: string[] = [
    '/Namespace', '/Node', '/PersistentVolume',
    'admissionregistration.k8s.io/MutatingAdmissionPolicy', 'admissionregistration.k8s.io/MutatingAdmissionPolicyBinding',
    'admissionregistration.k8s.io/MutatingWebhookConfiguration', 'admissionregistration.k8s.io/ValidatingAdmissionPolicy',
    'admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding', 'admissionregistration.k8s.io/ValidatingWebhookConfiguration',
    'apiextensions.k8s.io/CustomResourceDefinition', 'apiregistration.k8s.io/APIService',
    'cert-manager.io/ClusterIssuer', 'certificates.k8s.io/CertificateSigningRequest', 'certificates.k8s.io/ClusterTrustBundle',
    'flowcontrol.apiserver.k8s.io/FlowSchema', 'flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration',
    'networking.k8s.io/IngressClass', 'node.k8s.io/RuntimeClass',
    'rbac.authorization.k8s.io/ClusterRole', 'rbac.authorization.k8s.io/ClusterRoleBinding',
    'scheduling.k8s.io/PriorityClass', 'storage.k8s.io/CSIDriver', 'storage.k8s.io/CSINode', 'storage.k8s.io/StorageClass',
    'storage.k8s.io/VolumeAttachment',
  ];

  /** Adds the check to the app that contains `scope`, once per app. */
  public static addTo(scope: IConstruct): void {
    const app = App.of(scope);
    if (!UniqueObjectsCheck.checkedApps.has(app)) {
      UniqueObjectsCheck.checkedApps.add(app);
      app.node.addValidation({ validate: () => UniqueObjectsCheck.duplicates(app) });
    }
  }

  /** One message for every object identity that two or more objects of `scope`'s app share. */
  public static duplicates(scope: IConstruct): string[] {
    const owners = new Map<string, string[]>();
    for (const apiObject of App.of(scope).node.findAll().filter((c): c is ApiObject => c instanceof ApiObject)) {
      // The declared identity, without rendering the object (JSON patches are not applied: the
      // namespace a Chart gives a cluster-scoped object is ignored by kind instead).
      const name = apiObject.metadata.name;
      if (name === undefined) {
        continue; // generateName: the API server makes it unique
      }
      const apiVersion = apiObject.apiVersion;
      const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
      const namespace = UniqueObjectsCheck.CLUSTER_SCOPED_KINDS.includes(`${group}/${apiObject.kind}`) ? undefined : apiObject.metadata.namespace;
      const identity = `${apiObject.kind} "${name}"${namespace === undefined ? '' : ` in namespace "${namespace}"`} (API group "${group || 'core'}")`;
      owners.set(identity, [...(owners.get(identity) ?? []), apiObject.node.path]);
    }
    return [...owners].filter(([, paths]) => paths.length > 1).map(([identity, paths]) =>
      `duplicate object: ${identity} is defined by ${paths.join(' and ')}; applied one after the other, the last replaces the others: give each its own name or namespace`);
  }

  private static readonly checkedApps = new WeakSet<IConstruct>();
}
