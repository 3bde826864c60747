import { createHash } from 'crypto';
import * as k8s from '../../imports/k8s';

/** The uid and gid the credentials Jobs run as; neither image needs a particular user. */
export const CREDENTIALS_JOB_USER_ID = 65532;

/** Pod-level settings the restricted Pod Security Standard asks for. */
export const RESTRICTED_POD_SECURITY_CONTEXT: k8s.PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: CREDENTIALS_JOB_USER_ID,
  runAsGroup: CREDENTIALS_JOB_USER_ID,
  seccompProfile: { type: 'RuntimeDefault' },
};

/** Container-level settings the restricted Pod Security Standard asks for, plus a read-only root. */
export const RESTRICTED_CONTAINER_SECURITY_CONTEXT: k8s.SecurityContext = {
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};

/** Enough for `sh`, `htpasswd` at a low bcrypt cost and `kubectl`, small enough for any node. */
export const SCRIPT_CONTAINER_RESOURCES: k8s.ResourceRequirements = {
  requests: { cpu: k8s.Quantity.fromString('10m'), memory: k8s.Quantity.fromString('64Mi') },
  limits: { cpu: k8s.Quantity.fromString('500m'), memory: k8s.Quantity.fromString('256Mi') },
};

/** A writable HOME for kubectl's cache; the root filesystem is read-only. */
export const TMP_VOLUME: k8s.Volume = { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } };

/** Where kubectl, like every in-cluster client, looks for the ServiceAccount's credentials. */
export const API_ACCESS_MOUNT: k8s.VolumeMount = { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true };

/**
 * The volume `automountServiceAccountToken` would add, for pods that mount it in one container
 * only: with automounting, every container of the pod, init containers included, gets the token.
 */
export const API_ACCESS_VOLUME: k8s.Volume = {
  name: API_ACCESS_MOUNT.name,
  projected: {
    sources: [
      { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
      { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      { downwardApi: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
    ],
  },
};

/** A container that runs `script` with `sh -c`, its parameters in plain (non-secret) env vars. */
export function scriptContainer(name: string, image: string, script: string, env: Record<string, string>, volumeMounts: k8s.VolumeMount[]): k8s.Container {
  return {
    name,
    image,
    // The digest pins the bytes, so a cached copy is always the right one.
    imagePullPolicy: 'IfNotPresent',
    command: ['sh', '-c', script],
    env: Object.entries(env).map(([key, value]) => ({ name: key, value })),
    volumeMounts,
    resources: SCRIPT_CONTAINER_RESOURCES,
    securityContext: RESTRICTED_CONTAINER_SECURITY_CONTEXT,
  };
}

/**
 * The first 8 hex characters of the SHA-256 of `value` as JSON. A Job's pod template cannot
 * change, so Jobs carry this hash of their template in their name: any change makes a new Job.
 */
export function shortHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 8);
}

