import { validateObjectName } from '../validation';

/**
 * Credentials for pulling from the registry: a `kubernetes.io/dockerconfigjson` Secret in the
 * registry's namespace that `PullAccess` copies into consumer namespaces. Implemented by
 * `RegistryCredentialsGenerator` and by `PullCredentials.fromSecretName()`.
 */
export interface IPullCredentials {
  /** Name of the `kubernetes.io/dockerconfigjson` Secret in the registry's namespace. */
  readonly pullSecretName: string;

  /**
   * The namespace of the Secret, when known; otherwise it is the namespace of the chart that uses
   * the credentials.
   */
  readonly pullSecretNamespace?: string;

  /**
   * The generation the Secret must have reached (its `cdk8s-trusted-registry/credentials-generation`
   * annotation) before it is copied, so that a copy made during a rotation is never the old one.
   * Undefined when nothing writes that annotation.
   */
  readonly pullSecretGeneration?: number;
}

/** Imports pull credentials that exist outside this library. */
export class PullCredentials {
  /**
   * A `kubernetes.io/dockerconfigjson` Secret that you create in the registry's namespace (for
   * example with `kubectl create secret docker-registry`, see the README), so that no password
   * is synthesized.
   *
   * The copies `PullAccess` makes are refreshed only when its Job runs again: after changing the
   * Secret, delete the Job (`kubectl delete job -l cdk8s-trusted-registry/pull-access`) and apply
   * the chart again.
   *
   * @param secretName name of the Secret
   */
  public static fromSecretName(secretName: string): IPullCredentials {
    return { pullSecretName: validateObjectName('pull secretName', secretName) };
  }

  private constructor() {}
}
