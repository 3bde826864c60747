/**
 * Every container image the constructs deploy, pinned by digest, in one place so that users can
 * mirror them (e.g. `skopeo copy --all docker://<image> docker://<mirror>/<image>`) and
 * override them through the constructs' `image` props.
 *
 * Refresh a digest with:
 *   skopeo inspect --format '{{.Digest}}' docker://docker.io/library/registry:2.8.3
 */
export class Images {
  /**
   * The registry (distribution 2.8.3). Digest of the multi-architecture image index of
   * `docker.io/library/registry:2.8.3`, read from public manifests that pin it (this
   * workplace cannot reach Docker Hub; the command above prints the same value).
   */
  public static readonly REGISTRY = 'docker.io/library/registry:2.8.3@sha256:a3d8aaa63ed8681a604f1dea0aa03f100d5895b6a58ace528858a7b332415373';

  /**
   * Apache httpd on Alpine, used only for its `htpasswd` (bcrypt) and BusyBox shell by the
   * credentials generator. Digest of `docker.io/library/httpd:2.4-alpine`, read from public
   * BuildKit logs that resolved that tag (`resolve docker.io/library/httpd:2.4-alpine@sha256:…`)
   * and a public deployment script pinning the same value; not checked against Docker Hub here.
   */
  public static readonly HTPASSWD = 'docker.io/library/httpd:2.4-alpine@sha256:1b766f17b84026429b7cb243317b142921b24432336e798bc881c43f45ed9567';

  /**
   * kubectl with a POSIX shell (the official `registry.k8s.io/kubectl` has no shell), used by the
   * Jobs that write credentials Secrets. Bitnami publishes only `latest` of this image; the
   * digest is that of its multi-architecture index, read from a public Helm chart that pins it
   * (`docker.io/bitnami/kubectl@sha256:6e9c…`); not checked against Docker Hub here.
   */
  public static readonly KUBECTL = 'docker.io/bitnami/kubectl:latest@sha256:6e9c5284a0dac06e84de9f4d97852d2e6513442ee7ec3a66d35009eec86e1e62';

  /**
   * A shell for the NodeTrust DaemonSet (busybox 1.36.1: sh, nslookup, awk, sed, cmp). Digest of
   * the multi-architecture image index of `docker.io/library/busybox:1.36.1`, read from public
   * manifests on GitHub that pin it (found by searching "busybox:1.36.1@sha256:"; one of them
   * notes it is the index Docker Hub answered); not re-read from Docker Hub, which this
   * workplace cannot reach. Verify with
   * `skopeo inspect --format '{{.Digest}}' docker://docker.io/library/busybox:1.36.1`.
   */
  public static readonly BUSYBOX = 'docker.io/library/busybox:1.36.1@sha256:73aaf090f3d85aa34ee199857f03fa3a95c8ede2ffd4cc2cdb5b94e566b11662';

  private constructor() {}
}

/** `Images` as an object, for TypeScript code that iterates or spreads the list. */
export const IMAGES = {
  registry: Images.REGISTRY,
  htpasswd: Images.HTPASSWD,
  kubectl: Images.KUBECTL,
  busybox: Images.BUSYBOX,
} as const;
