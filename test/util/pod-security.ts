/**
 * Asserts what the restricted Pod Security Standard checks on a pod spec, plus a read-only root
 * filesystem: non-root, RuntimeDefault seccomp, no privilege escalation, every capability dropped,
 * no host namespaces or host paths.
 */
export function expectRestrictedPod(pod: any): void {
  expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
  expect(pod.hostNetwork ?? false).toBe(false);
  expect(pod.hostPID ?? false).toBe(false);
  expect(pod.hostIPC ?? false).toBe(false);
  for (const volume of pod.volumes ?? []) {
    expect(volume.hostPath).toBeUndefined();
  }
  for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.securityContext.privileged ?? false).toBe(false);
    expect(container.securityContext.capabilities.add).toBeUndefined();
    expect(container.image).toMatch(/@sha256:[a-f0-9]{64}$/);
  }
}
