/**
 * Every container image the constructs deploy, pinned by digest, in one place so that users can
 * mirror them (e.g. `skopeo copy --all docker://<image> docker://<mirror>/<image>`) and
 * override them through the constructs' `image` props.
 *
 * Each entry says who publishes the image and where its digest was read. This workplace cannot
 * reach any container registry, so no digest here was read from its registry: each was taken from
 * public files that pin it, and must be confirmed (and refreshed) with
 *
 *   skopeo inspect --raw docker://<name>:<tag> | sha256sum      # digest of the multi-arch index
 *   skopeo inspect --format '{{.Digest}}' docker://<name>:<tag>  # the same value
 *
 * To refresh an image: run the command for its tag, replace the digest here, update the snapshot
 * (`npx jest -u test/chart`) and say in the commit which command printed the value.
 */
export class Images {
  /**
   * The registry: distribution 2.8.3, the Docker Official Image `registry` (built by Docker from
   * github.com/distribution/distribution-library-image). 2.8.3 is the last 2.x release and is
   * still published; it is what the end-to-end tests run (Debian's `docker-registry` 2.8). The
   * digest is that of the multi-architecture index of `docker.io/library/registry:2.8.3`, read
   * from public manifests that pin it. Refresh:
   * `skopeo inspect --format '{{.Digest}}' docker://docker.io/library/registry:2.8.3`.
   */
  public static readonly REGISTRY = 'docker.io/library/registry:2.8.3@sha256:a3d8aaa63ed8681a604f1dea0aa03f100d5895b6a58ace528858a7b332415373';

  /**
   * Apache httpd on Alpine, the Docker Official Image `httpd` (maintained by Docker with the
   * Apache httpd packaging), used only for its `htpasswd` (bcrypt) and BusyBox shell by the
   * credentials generator's first container, which has no API access. `2.4-alpine` moves with
   * every httpd and Alpine release; the digest pins one build of it, read from public BuildKit
   * logs that resolved that tag (`resolve docker.io/library/httpd:2.4-alpine@sha256:…`) and a
   * public deployment script pinning the same value. Refresh:
   * `skopeo inspect --format '{{.Digest}}' docker://docker.io/library/httpd:2.4-alpine`.
   */
  public static readonly HTPASSWD = 'docker.io/library/httpd:2.4-alpine@sha256:1b766f17b84026429b7cb243317b142921b24432336e798bc881c43f45ed9567';

  /**
   * kubectl, the Kubernetes project's own image (built and signed by SIG Release; verify with
   * `cosign verify registry.k8s.io/kubectl:v1.33.3 --certificate-identity
   * krel-trust@k8s-releng-prod.iam.gserviceaccount.com --certificate-oidc-issuer
   * https://accounts.google.com`). It is distroless: `/bin/kubectl` and no shell, so the Jobs run
   * their scripts with the static BusyBox of `Images.SHELL`, copied in by an init container (see
   * `restricted-pod.ts`). It replaces `docker.io/bitnami/kubectl`, which Bitnami withdrew from
   * Docker Hub in 2025. kubectl 1.33 talks to API servers 1.32 to 1.34, and the Jobs use only
   * `get`, `create`, `replace` and `patch`, stable for far longer. The digest, of the
   * multi-architecture index of `v1.33.3`, was read from one public Dockerfile pinning it; confirm
   * it with `skopeo inspect --format '{{.Digest}}' docker://registry.k8s.io/kubectl:v1.33.3`.
   */
  public static readonly KUBECTL = 'registry.k8s.io/kubectl:v1.33.3@sha256:aee0d617a26c05f79f566f710fee7afa9f72336fb4499f6f5f7b9ca00c6cde0c';

  /**
   * A shell for the kubectl containers: BusyBox 1.36.1, the Docker Official Image `busybox`, in its
   * `-musl` variant because that one is statically linked (`CONFIG_STATIC=y` in
   * docker-library/busybox's musl Dockerfile.builder; the default glibc variant is not), so its
   * `/bin/busybox` runs inside the distroless kubectl image. The digest, of the
   * multi-architecture index, was read from several public Dockerfiles that copy that binary
   * into distroless images; confirm it with
   * `skopeo inspect --format '{{.Digest}}' docker://docker.io/library/busybox:1.36.1-musl`.
   */
  public static readonly SHELL = 'docker.io/library/busybox:1.36.1-musl@sha256:2f9af5cf39068ec3a9e124feceaa11910c511e23a1670dcfdff0bc16793545fb';

  /**
   * A shell for the NodeTrust DaemonSet (busybox 1.36.1: sh, nslookup, awk, sed, cmp), the Docker
   * Official Image `busybox` (default glibc variant, whose `nslookup` uses the C library's
   * resolver). Digest of the multi-architecture image index of `docker.io/library/busybox:1.36.1`,
   * read from public manifests on GitHub that pin it (found by searching "busybox:1.36.1@sha256:";
   * one of them notes it is the index Docker Hub answered). Refresh:
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
  shell: Images.SHELL,
  busybox: Images.BUSYBOX,
} as const;
