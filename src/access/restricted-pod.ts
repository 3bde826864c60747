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
  return restrictedContainer(name, image, ['sh', '-c', script], env, volumeMounts);
}

/**
 * Where the kubectl containers find a shell. `registry.k8s.io/kubectl` is distroless (kubectl and
 * nothing else), so `shellInitContainer()` copies the static BusyBox of `Images.SHELL` and its
 * applet links into this memory-backed volume, and `kubectlScriptContainer()` runs the script
 * with it. The volume holds only that binary, written before the kubectl container starts.
 */
export const SHELL_DIR = '/shell';

/** The volume behind `SHELL_DIR`. */
export const SHELL_VOLUME: k8s.Volume = { name: 'shell', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('8Mi') } };

/** The init container that fills `SHELL_VOLUME` from `image`, a static BusyBox. */
export function shellInitContainer(image: string): k8s.Container {
  // The links point at ${SHELL_DIR}/busybox, which is where the kubectl container sees it too.
  const install = `cp /bin/busybox ${SHELL_DIR}/busybox && ${SHELL_DIR}/busybox --install -s ${SHELL_DIR}`;
  return restrictedContainer('shell', image, ['/bin/sh', '-c', install], {}, [{ name: SHELL_VOLUME.name, mountPath: SHELL_DIR }]);
}

/**
 * A container of a kubectl image that runs `script` with the shell of `shellInitContainer()`:
 * BusyBox's applets first on PATH, then the directories kubectl images put it in.
 */
export function kubectlScriptContainer(name: string, image: string, script: string, env: Record<string, string>, volumeMounts: k8s.VolumeMount[]): k8s.Container {
  return restrictedContainer(name, image, [`${SHELL_DIR}/sh`, '-c', script], {
    PATH: `${SHELL_DIR}:/usr/local/bin:/usr/bin:/bin`,
    ...env,
  }, [...volumeMounts, { name: SHELL_VOLUME.name, mountPath: SHELL_DIR, readOnly: true }]);
}

function restrictedContainer(name: string, image: string, command: string[], env: Record<string, string>, volumeMounts: k8s.VolumeMount[]): k8s.Container {
  const variables = Object.entries(env).map(([key, value]) => ({ name: key, value }));
  return {
    name,
    image,
    // The digest pins the bytes, so a cached copy is always the right one.
    imagePullPolicy: 'IfNotPresent',
    command,
    env: variables.length > 0 ? variables : undefined,
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

