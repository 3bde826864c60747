#!/usr/bin/env bash
# Builds the real Kubernetes control plane (and node) binaries the API-server test tiers run,
# from the Go module proxy, into a cache directory outside the repository. Nothing is downloaded
# but Go modules; nothing binary is committed.
#
#   scripts/build-kube.sh [KUBE_VERSION] [COMPONENT ...]
#
# KUBE_VERSION: a k8s.io/kubernetes release, e.g. 1.33.13 (default). COMPONENTS: any of
# etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl
# (default: etcd kube-apiserver kube-controller-manager kubectl).
#
# Output: $TRUSTED_REGISTRY_KUBE_CACHE/v<KUBE_VERSION>/bin/<component> (default cache:
# ~/.cache/cdk8s-trusted-registry/kube). A binary already there is reused: the directory is keyed
# by version, and each binary is written under a temporary name and renamed when complete, so an
# interrupted build never leaves a binary that looks finished.
#
# Why a wrapper module: k8s.io/kubernetes replaces every k8s.io/<staging repo> with a directory of
# its own source tree, which `go install` refuses. The wrapper requires k8s.io/kubernetes and
# replaces each staging repo with its published v0.<minor>.<patch> release instead.
set -euo pipefail

KUBE_VERSION="${1:-1.33.13}"
shift || true
COMPONENTS=("$@")
[ "${#COMPONENTS[@]}" -gt 0 ] || COMPONENTS=(etcd kube-apiserver kube-controller-manager kubectl)
# The etcd release the Kubernetes versions we test recommend (3.5 series for 1.30 to 1.33).
ETCD_VERSION="${ETCD_VERSION:-3.5.21}"

if ! [[ "$KUBE_VERSION" =~ ^1\.([0-9]+)\.([0-9]+)$ ]]; then
  echo "build-kube: KUBE_VERSION must look like 1.33.13, got \"$KUBE_VERSION\"" >&2
  exit 2
fi
MINOR="${BASH_REMATCH[1]}"
STAGING_VERSION="v0.${MINOR}.${BASH_REMATCH[2]}"

GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
if [ ! -x "$GO" ]; then
  echo "build-kube: Go is not installed (https://go.dev/doc/install, or Debian: apt-get install golang)" >&2
  exit 3
fi

CACHE="${TRUSTED_REGISTRY_KUBE_CACHE:-${HOME}/.cache/cdk8s-trusted-registry/kube}"
OUT="$CACHE/v$KUBE_VERSION/bin"
mkdir -p "$OUT"

missing=()
for component in "${COMPONENTS[@]}"; do
  case "$component" in
    etcd | kube-apiserver | kube-controller-manager | kube-scheduler | kubelet | kubectl) ;;
    *) echo "build-kube: unknown component \"$component\"" >&2; exit 2 ;;
  esac
  [ -x "$OUT/$component" ] || missing+=("$component")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "build-kube: v$KUBE_VERSION: ${COMPONENTS[*]} already in $OUT"
  exit 0
fi

export GOFLAGS="-mod=mod"
export CGO_ENABLED=0
export GOTOOLCHAIN=local
started=$(date +%s)

# One wrapper module per version; kept, so that a rerun after an interruption starts where it was.
WORK="$CACHE/v$KUBE_VERSION/module"
mkdir -p "$WORK"

kube_packages=()
build_etcd=0
for component in "${missing[@]}"; do
  if [ "$component" = etcd ]; then build_etcd=1; else kube_packages+=("k8s.io/kubernetes/cmd/$component"); fi
done

if [ "${#kube_packages[@]}" -gt 0 ]; then
  (
    cd "$WORK"
    if [ ! -f go.mod.done ]; then
      echo "build-kube: resolving k8s.io/kubernetes v$KUBE_VERSION from the Go module proxy"
      upstream_mod="$("$GO" mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
      {
        echo "module kubebuild.local/wrapper"
        echo
        echo "go 1.24"
        echo
        echo "require k8s.io/kubernetes v$KUBE_VERSION"
        echo
        # Every staging repo the release replaces with a local directory, from its own go.mod.
        grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$upstream_mod" \
          | awk -v v="$STAGING_VERSION" '{ printf "replace %s => %s %s\n", $1, $1, v }'
      } > go.mod
      cat > tools.go <<'EOF'
//go:build tools

package tools
EOF
      for package in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
        [ "$package" = etcd ] && continue
        echo "import _ \"k8s.io/kubernetes/cmd/$package\"" >> tools.go
      done
      "$GO" mod tidy
      touch go.mod.done
    fi
    ldflags="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags="$ldflags -X $pkg.gitVersion=v$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$MINOR -X $pkg.gitTreeState=clean"
    done
    echo "build-kube: building ${kube_packages[*]} (v$KUBE_VERSION; the first binary takes 4 to 45 minutes cold on 2 cores, each further one far less)"
    for package in "${kube_packages[@]}"; do
      name="$(basename "$package")"
      "$GO" build -trimpath -ldflags "$ldflags" -o "$OUT/.$name.partial" "$package"
      mv "$OUT/.$name.partial" "$OUT/$name"
      echo "build-kube: $OUT/$name ($(( $(date +%s) - started )) s)"
    done
  )
fi

if [ "$build_etcd" = 1 ]; then
  ETCD_WORK="$CACHE/etcd-v$ETCD_VERSION/module"
  mkdir -p "$ETCD_WORK"
  (
    cd "$ETCD_WORK"
    if [ ! -f go.mod.done ]; then
      printf 'module kubebuild.local/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" > go.mod
      printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
      "$GO" mod tidy
      touch go.mod.done
    fi
    "$GO" build -trimpath -ldflags "-s -w" -o "$OUT/.etcd.partial" go.etcd.io/etcd/server/v3
    mv "$OUT/.etcd.partial" "$OUT/etcd"
    echo "build-kube: $OUT/etcd ($(( $(date +%s) - started )) s)"
  )
fi

echo "build-kube: v$KUBE_VERSION ready in $OUT after $(( $(date +%s) - started )) s"
