import { invalid, validateHost, validateInteger } from '../validation';

/** How nodes learn to trust the registry. */
export enum NodeTrustMode {
  /**
   * containerd's registry host configuration: `/etc/containerd/certs.d/<host>/hosts.toml` and
   * `ca.crt`. containerd must have `config_path = "/etc/containerd/certs.d"` (see
   * the README); it reads the files on every pull, no restart needed.
   */
  CONTAINERD = 'containerd',
  /**
   * k3s' `/etc/rancher/k3s/registries.yaml` and a CA file beside it. k3s reads the file only when
   * it starts, so restart k3s (or k3s-agent) once after the first write. A registries.yaml that
   * NodeTrust did not write is left untouched.
   */
  K3S = 'k3s',
}

/** Paths on the node the script writes, relative to its root. */
export const NODE_TRUST_HOST_PATHS = {
  /** containerd's registry host configuration directory. */
  containerdCertsDir: '/etc/containerd/certs.d',
  /** k3s' configuration directory. */
  k3sConfigDir: '/etc/rancher/k3s',
  /** The node's static host name table. */
  hosts: '/etc/hosts',
} as const;

/** Where the script finds its inputs in the container. */
export const NODE_TRUST_CONTAINER_PATHS = {
  /** Where the node's paths are mounted (the script's default `HOST_ROOT`). */
  hostRoot: '/host',
  /** The CA certificate to trust (the script's default `CA_FILE`). */
  caFile: '/etc/node-trust/ca/ca.crt',
} as const;

/** The text that marks the files and the /etc/hosts line the script owns. */
export const NODE_TRUST_MARKER = 'managed by cdk8s-trusted-registry NodeTrust';

/** Inputs of `renderNodeTrustScript`. */
export interface NodeTrustScriptOptions {
  /** The registry's DNS name, as in image references. */
  readonly registryHost: string;
  /** The fully qualified in-cluster DNS name of the registry Service, resolved to its ClusterIP. */
  readonly serviceDnsName: string;
  /** What the script writes for the container runtime. */
  readonly mode: NodeTrustMode;
  /** Seconds between two runs. */
  readonly intervalSeconds: number;
}

function containerdConfiguration(host: string): string {
  const dir = `${NODE_TRUST_HOST_PATHS.containerdCertsDir}/${host}`;
  return `# containerd reads certs.d/<host>/hosts.toml on every pull from <host>.
sync_runtime() {
  dir="$HOST_ROOT${dir}"
  mkdir -p "$dir" || return 1
  replace_file "$dir/ca.crt" < "$CA_FILE" || return 1
  replace_file "$dir/hosts.toml" <<'END'
# ${NODE_TRUST_MARKER}
server = "https://${host}"

[host."https://${host}"]
  capabilities = ["pull", "resolve"]
  ca = "${dir}/ca.crt"
END
}`;
}

function k3sConfiguration(host: string): string {
  const caDir = `${NODE_TRUST_HOST_PATHS.k3sConfigDir}/trusted-registry/${host}`;
  return `# k3s renders its own containerd configuration from registries.yaml when it starts.
sync_runtime() {
  file="$HOST_ROOT${NODE_TRUST_HOST_PATHS.k3sConfigDir}/registries.yaml"
  if [ -f "$file" ] && ! grep -q -F '${NODE_TRUST_MARKER}' "$file"; then
    log "$file was not written by NodeTrust: left as is (add ${host} to it yourself)"
    return 1
  fi
  mkdir -p "$HOST_ROOT${caDir}" || return 1
  replace_file "$HOST_ROOT${caDir}/ca.crt" < "$CA_FILE" || return 1
  replace_file "$file" <<'END'
# ${NODE_TRUST_MARKER}; k3s reads it only when it starts
configs:
  "${host}":
    tls:
      ca_file: ${caDir}/ca.crt
END
}`;
}

/**
 * The POSIX shell script the NodeTrust DaemonSet runs on every node. Each run (every
 * `intervalSeconds`, or once with `--once`):
 *
 * 1. writes the container runtime's trust for the registry (see `NodeTrustMode`), and
 * 2. resolves the registry Service through cluster DNS and maps the registry host to its
 *    ClusterIP in the node's /etc/hosts, on one marked line, leaving every other line as it is.
 *
 * Files are rewritten only when their content changes. The environment variables `HOST_ROOT`
 * (the node's root), `CA_FILE` and `TMPDIR` say where it reads and writes, so tests can run it
 * against a directory.
 */
export function renderNodeTrustScript(options: NodeTrustScriptOptions): string {
  const host = validateHost('registryHost', options.registryHost);
  const service = validateHost('serviceDnsName', options.serviceDnsName);
  const interval = validateInteger('intervalSeconds', options.intervalSeconds, 1, 86_400);
  if (!Object.values(NodeTrustMode).includes(options.mode)) {
    invalid('mode', `must be one of ${Object.values(NodeTrustMode).map((m) => `"${m}"`).join(', ')}`, options.mode);
  }
  const runtime = options.mode === NodeTrustMode.CONTAINERD ? containerdConfiguration(host) : k3sConfiguration(host);
  // The host and Service names are validated DNS names: safe inside single quotes and here-documents.
  return `#!/bin/sh
# ${NODE_TRUST_MARKER}: makes this node's container runtime trust
# ${host} and resolve it to the ClusterIP of ${service}.
HOST_ROOT="\${HOST_ROOT:-${NODE_TRUST_CONTAINER_PATHS.hostRoot}}"
CA_FILE="\${CA_FILE:-${NODE_TRUST_CONTAINER_PATHS.caFile}}"
TMPDIR="\${TMPDIR:-/tmp}"
HOSTS_MARKER='# ${NODE_TRUST_MARKER}: ${host}'

log() {
  echo "node-trust: $*" >&2
}

# Replaces file $1 with standard input when the content differs, through a temporary file in
# the same directory, so that readers never see a partial file.
replace_file() {
  tmp="$1.node-trust-tmp"
  cat > "$tmp" || return 1
  if cmp -s "$tmp" "$1"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$1" || return 1
    log "wrote $1"
  fi
}

${runtime}

# The first address after the "Name:" line of nslookup's answer (busybox and bind formats).
resolve_cluster_ip() {
  nslookup '${service}' 2>/dev/null | sed -n '/^Name:/,$ s/^Address[^:]*: *\\([0-9A-Fa-f.:]*\\).*/\\1/p' | head -n 1
}

sync_hosts() {
  ip=$(resolve_cluster_ip)
  case "$ip" in
    *[!0-9A-Fa-f.:]* | '') ip='' ;;
    *[.:]*) ;;
    *) ip='' ;;
  esac
  if [ -z "$ip" ]; then
    log "could not resolve ${service}: ${NODE_TRUST_HOST_PATHS.hosts} left as is"
    return 1
  fi
  hosts="$HOST_ROOT${NODE_TRUST_HOST_PATHS.hosts}"
  if [ ! -f "$hosts" ]; then
    log "$hosts not found"
    return 1
  fi
  new="$TMPDIR/node-trust-hosts"
  # Drops only lines ending in this registry's marker (another registry's marker may extend it).
  { awk -v marker=" $HOSTS_MARKER" 'substr($0, length($0) - length(marker) + 1) != marker' "$hosts"
    printf '%s %s %s\\n' "$ip" '${host}' "$HOSTS_MARKER"; } > "$new" || return 1
  # /etc/hosts is mounted as a single file, which cannot be renamed over: rewrite it in place.
  if ! cmp -s "$new" "$hosts"; then
    cat "$new" > "$hosts" || return 1
    log "mapped ${host} to $ip in $hosts"
  fi
  rm -f "$new"
}

sync_once() {
  status=0
  sync_runtime || status=1
  sync_hosts || status=1
  return $status
}

if [ "\${1:-}" = "--once" ]; then
  sync_once
  exit $?
fi

# As PID 1 the shell would ignore SIGTERM: exit promptly when the pod stops.
trap 'exit 0' TERM INT
while :; do
  sync_once || log "incomplete; retrying in ${interval}s"
  sleep ${interval} &
  wait $!
done
`;
}
