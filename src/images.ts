/**
 * Every container image the constructs deploy, pinned by digest, in one place so that users can
 * mirror them (e.g. `skopeo copy --all docker://<image> docker://<mirror>/<image>`) and
 * override them through the constructs' `image` props.
 *
 * Refresh a digest with:
 *   skopeo inspect --format '{{.Digest}}' docker://docker.io/library/registry:2.8.3
 */
export const IMAGES = {
  /**
   * The registry (distribution 2.8.3). Digest of the multi-architecture image index of
   * `docker.io/library/registry:2.8.3`, read from public manifests that pin it (this
   * workplace cannot reach Docker Hub; the command above prints the same value).
   */
  registry: 'docker.io/library/registry:2.8.3@sha256:a3d8aaa63ed8681a604f1dea0aa03f100d5895b6a58ace528858a7b332415373',
  /**
   * A shell for the NodeTrust DaemonSet (busybox 1.36.1: sh, nslookup, awk, sed, cmp). Digest of
   * the multi-architecture image index of `docker.io/library/busybox:1.36.1`, read from public
   * manifests on GitHub that pin it (found by searching "busybox:1.36.1@sha256:"; one of them
   * notes it is the index Docker Hub answered); not re-read from Docker Hub, which this
   * workplace cannot reach. Verify with
   * `skopeo inspect --format '{{.Digest}}' docker://docker.io/library/busybox:1.36.1`.
   */
  busybox: 'docker.io/library/busybox:1.36.1@sha256:73aaf090f3d85aa34ee199857f03fa3a95c8ede2ffd4cc2cdb5b94e566b11662',
} as const;
