import { validateCidr } from '../network/cidr';
import { invalid, validateEnum, validateHost, validateInteger, validateNamespace, validateServiceName } from '../validation';

/** How nodes learn to trust the registry. */
export enum NodeTrustMode {
  /**
   * containerd's registry host configuration: `/etc/containerd/certs.d/<host>/hosts.toml` and
   * `ca.crt`. containerd must have `config_path = "/etc/containerd/certs.d"` (see
   * the README); it reads the files on every pull, no restart needed.
   */
  CONTAINERD = 'containerd',
  /**
   * k3s' `/etc/rancher/k3s/registries.yaml` and a CA file in
   * `/etc/rancher/k3s/trusted-registry/<host>/`. k3s reads the file only when it starts, so
   * restart k3s (or k3s-agent) once after the first write. A registries.yaml that NodeTrust did
   * not write is left untouched.
   */
  K3S = 'k3s',
}

/** Paths on the node the script writes, relative to its root. */
export const NODE_TRUST_HOST_PATHS = {
  /** containerd's registry host configuration directory (NodeTrust mounts only `<host>/` in it). */
  containerdCertsDir: '/etc/containerd/certs.d',
  /** k3s' registry configuration (a single file, mounted alone). */
  k3sRegistries: '/etc/rancher/k3s/registries.yaml',
  /** Where the k3s mode writes the CA (NodeTrust mounts only `<host>/` in it). */
  k3sCaDir: '/etc/rancher/k3s/trusted-registry',
  /** The node's static host name table (a single file, mounted alone). */
  hosts: '/etc/hosts',
} as const;

/** Where the scripts find their inputs in the containers. */
export const NODE_TRUST_CONTAINER_PATHS = {
  /** Where the node's paths are mounted (the script's default `HOST_ROOT`). */
  hostRoot: '/host',
  /** The CA certificate to trust (the script's default `CA_FILE`). */
  caFile: '/etc/node-trust/ca/ca.crt',
  /**
   * The file, on a volume the two containers share, where the resolver writes the registry
   * Service's type and ClusterIP as read from the API (the scripts' default `ANSWER_FILE`).
   */
  answerFile: '/run/node-trust/service',
} as const;

/** The text that marks the files and the /etc/hosts line the script owns. */
export const NODE_TRUST_MARKER = 'managed by cdk8s-trusted-registry NodeTrust';

/** Inputs of `renderNodeTrustScript`. */
export interface NodeTrustScriptOptions {
  /** The registry's DNS name, as in image references. */
  readonly registryHost: string;
  /**
   * The cluster's Service IP ranges (one per IP family): the only ClusterIPs the script maps the
   * host to.
   */
  readonly serviceCidrs: string[];
  /** What the script writes for the container runtime. */
  readonly mode: NodeTrustMode;
  /** Seconds between two runs. */
  readonly intervalSeconds: number;
}

/** Inputs of `renderServiceResolverScript`. */
export interface ServiceResolverScriptOptions {
  /** Name of the registry Service. */
  readonly serviceName: string;
  /** Namespace of the registry Service. */
  readonly serviceNamespace: string;
  /** Seconds between two reads. */
  readonly intervalSeconds: number;
}

/**
 * The cluster's Service IP ranges: one or two CIDRs (at most one per IP family), each a network
 * address (host bits zero) no wider than /8 (IPv4) or /64 (IPv6), so that "in the service range"
 * cannot mean "any address".
 */
export function validateServiceCidrs(prop: string, cidrs: readonly string[]): string[] {
  if (cidrs.length < 1 || cidrs.length > 2) {
    invalid(prop, 'must list the cluster\'s Service IP range, one CIDR per IP family (one or two)', cidrs);
  }
  const families = cidrs.map((cidr) => {
    validateCidr(prop, cidr);
    const [address, prefixText] = cidr.split('/');
    const prefix = Number(prefixText);
    const v6 = address.includes(':');
    if (prefix < (v6 ? 64 : 8)) {
      invalid(prop, `must be no wider than /${v6 ? 64 : 8}: a wider range would accept addresses that are not ClusterIPs`, cidr);
    }
    if (addressBits(address).slice(prefix).includes('1')) {
      invalid(prop, 'must be a network address (no bits set after the prefix), e.g. "10.96.0.0/12"', cidr);
    }
    return v6 ? 6 : 4;
  });
  if (families.length === 2 && families[0] === families[1]) {
    invalid(prop, 'must list at most one CIDR per IP family (the Service range of a dual-stack cluster)', cidrs);
  }
  return [...cidrs];
}

/** The bits of a valid IPv4 or IPv6 address as a string of 0s and 1s. */
function addressBits(address: string): string {
  if (!address.includes(':')) {
    return address.split('.').map((octet) => Number(octet).toString(2).padStart(8, '0')).join('');
  }
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const missing = 8 - groups(head).length - groups(tail).length;
  return [...groups(head), ...Array(tail === undefined ? 0 : missing).fill('0'), ...groups(tail)]
    .map((group) => parseInt(group, 16).toString(2).padStart(16, '0')).join('');
}

function containerdConfiguration(host: string): string {
  const dir = `${NODE_TRUST_HOST_PATHS.containerdCertsDir}/${host}`;
  return `# containerd reads certs.d/<host>/hosts.toml on every pull from <host>. Only this
# directory is mounted: files are replaced by rename inside it.
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
  const caDir = `${NODE_TRUST_HOST_PATHS.k3sCaDir}/${host}`;
  return `# k3s renders its own containerd configuration from registries.yaml when it starts. The
# file is mounted alone (not the directory, which holds the admin kubeconfig): it is written in
# place. An empty file is the one the kubelet creates for the mount.
sync_runtime() {
  file="$HOST_ROOT${NODE_TRUST_HOST_PATHS.k3sRegistries}"
  if [ -s "$file" ] && ! grep -q -F '${NODE_TRUST_MARKER}' "$file"; then
    log "$file was not written by NodeTrust: left as is (add ${host} to it yourself)"
    return 1
  fi
  mkdir -p "$HOST_ROOT${caDir}" || return 1
  replace_file "$HOST_ROOT${caDir}/ca.crt" < "$CA_FILE" || return 1
  write_in_place "$file" <<'END'
# ${NODE_TRUST_MARKER}; k3s reads it only when it starts
configs:
  "${host}":
    tls:
      ca_file: ${caDir}/ca.crt
END
}`;
}

/**
 * An awk program that reads the resolver's answer (`<type> <ClusterIP>`) and prints
 * `ok <ClusterIP>` when the Service is of type ClusterIP and its address is a well-formed IPv4 or
 * IPv6 address inside one of `-v cidrs` (space-separated), or `refused: <why>` otherwise.
 */
const ANSWER_CHECK = String.raw`
function bits(v, width,   s, i) { s = ""; for (i = 0; i < width; i++) { s = (v % 2) s; v = int(v / 2) } return s }
function hexval(h,   i, v) { v = 0; h = tolower(h); for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1; return v }
function v4(ip,   n, p, i, out) {
  n = split(ip, p, ".")
  if (n != 4) return ""
  out = ""
  for (i = 1; i <= 4; i++) {
    if (p[i] !~ /^(0|[1-9][0-9]?[0-9]?)$/ || p[i] + 0 > 255) return ""
    out = out bits(p[i] + 0, 8)
  }
  return out
}
function groups(s, g,   n, i) {
  if (s == "") return 0
  n = split(s, g, ":")
  for (i = 1; i <= n; i++) if (g[i] !~ /^[0-9a-fA-F]+$/ || length(g[i]) > 4) return -1
  return n
}
function v6(ip,   at, hg, tg, nh, nt, out, i) {
  if (ip !~ /^[0-9a-fA-F:]+$/) return ""
  at = index(ip, "::")
  if (at == 0) {
    nh = groups(ip, hg); nt = 0
    if (nh != 8) return ""
  } else {
    if (index(substr(ip, at + 1), "::") > 0) return ""
    nh = groups(substr(ip, 1, at - 1), hg); nt = groups(substr(ip, at + 2), tg)
    if (nh < 0 || nt < 0 || nh + nt > 7) return ""
  }
  out = ""
  for (i = 1; i <= nh; i++) out = out bits(hexval(hg[i]), 16)
  for (i = nh + nt; i < 8; i++) out = out bits(0, 16)
  for (i = 1; i <= nt; i++) out = out bits(hexval(tg[i]), 16)
  return out
}
function address(ip) { return ip ~ /:/ ? v6(ip) : v4(ip) }
function shown(s) { gsub(/[^ -~]/, "?", s); return "\"" substr(s, 1, 80) "\"" }
NR == 1 { line = $0 }
END {
  if (NR != 1) { print "refused: expected one line \"<type> <ClusterIP>\", got " NR " lines"; exit }
  n = split(line, f, " ")
  if (f[1] != "ClusterIP") { print "refused: the Service is of type " shown(f[1]) ", not ClusterIP"; exit }
  if (n != 2 || line != f[1] " " f[2]) { print "refused: not \"ClusterIP <address>\": " shown(line); exit }
  a = address(f[2])
  if (a == "") { print "refused: not an IP address: " shown(f[2]); exit }
  nc = split(cidrs, c, " ")
  for (i = 1; i <= nc; i++) {
    slash = index(c[i], "/")
    net = address(substr(c[i], 1, slash - 1))
    len = substr(c[i], slash + 1) + 0
    if (length(net) == length(a) && substr(net, 1, len) == substr(a, 1, len)) { print "ok " f[2]; exit }
  }
  print "refused: " f[2] " is outside the Service range " cidrs
}`;

/**
 * The POSIX shell script the NodeTrust DaemonSet's `node-trust` container runs on every node
 * (busybox: sh, awk, grep, cmp, stat). Each run (every `intervalSeconds`, or once with `--once`):
 *
 * 1. writes the container runtime's trust for the registry (see `NodeTrustMode`), and
 * 2. maps the registry host, on one marked line of the node's /etc/hosts (every other line left
 *    as it is), to the registry Service's ClusterIP as the resolver read it from the API
 *    (`renderServiceResolverScript`), only if the Service is of type ClusterIP and the address
 *    is in `serviceCidrs`; anything else (ExternalName, another address, garbage) leaves
 *    /etc/hosts as it is and fails the run.
 *
 * Files in mounted directories are replaced by rename, so readers never see a partial file;
 * files mounted alone (/etc/hosts, k3s' registries.yaml) cannot be renamed over and are
 * rewritten in place, only when their content changes. When the node replaced such a file after
 * the container started (e.g. `sed -i`), the mount still shows the old, unlinked file: the
 * script then exits with status 3 so that the kubelet restarts the container with the current
 * file, instead of writing where nobody reads.
 *
 * The environment variables `HOST_ROOT` (the node's root), `CA_FILE`, `ANSWER_FILE` and `TMPDIR`
 * say where it reads and writes, so tests can run it against a directory.
 */
export function renderNodeTrustScript(options: NodeTrustScriptOptions): string {
  const host = validateHost('registryHost', options.registryHost);
  const cidrs = validateServiceCidrs('serviceCidrs', options.serviceCidrs).join(' ');
  const interval = validateInteger('intervalSeconds', options.intervalSeconds, 1, 86_400);
  const mode = validateEnum('mode', options.mode, Object.values(NodeTrustMode));
  const runtime = mode === NodeTrustMode.CONTAINERD ? containerdConfiguration(host) : k3sConfiguration(host);
  // The host is a validated DNS name and the CIDRs validated addresses: safe inside single
  // quotes and here-documents.
  return `#!/bin/sh
# ${NODE_TRUST_MARKER}: makes this node's container runtime trust
# ${host} and resolve it to the registry Service's ClusterIP, read from the API.
HOST_ROOT="\${HOST_ROOT:-${NODE_TRUST_CONTAINER_PATHS.hostRoot}}"
CA_FILE="\${CA_FILE:-${NODE_TRUST_CONTAINER_PATHS.caFile}}"
ANSWER_FILE="\${ANSWER_FILE:-${NODE_TRUST_CONTAINER_PATHS.answerFile}}"
TMPDIR="\${TMPDIR:-/tmp}"
SERVICE_CIDRS='${cidrs}'
HOSTS_MARKER='# ${NODE_TRUST_MARKER}: ${host}'

log() {
  echo "node-trust: $*" >&2
}

# Replaces file $1, in a mounted directory, with standard input when the content differs,
# through a temporary file in the same directory, so that readers never see a partial file.
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

# A file mounted alone whose link count is 0 was replaced on the node since the container
# started: the mount shows a file nobody reads any more.
check_mount() {
  if [ "$(stat -c %h "$1")" = 0 ]; then
    log "$1 was replaced on the node after this container started: exiting so that the container restarts with the current file"
    exit 3
  fi
}

# Rewrites file $1, mounted alone (it cannot be renamed over), with standard input when the
# content differs.
write_in_place() {
  check_mount "$1"
  new="$TMPDIR/node-trust-new"
  cat > "$new" || return 1
  if ! cmp -s "$new" "$1"; then
    cat "$new" > "$1" || { rm -f "$new"; return 1; }
    log "wrote $1"
  fi
  rm -f "$new"
}

${runtime}

# The ClusterIP from the resolver's answer, or nothing (with the reason in the log).
cluster_ip() {
  if [ ! -f "$ANSWER_FILE" ]; then
    log "no answer from the API yet (see the resolve container's log)"
    return 1
  fi
  verdict=$(awk -v cidrs="$SERVICE_CIDRS" '${ANSWER_CHECK}' "$ANSWER_FILE")
  case "$verdict" in
    'ok '*) echo "\${verdict#ok }" ;;
    *) log "$verdict"; return 1 ;;
  esac
}

sync_hosts() {
  hosts="$HOST_ROOT${NODE_TRUST_HOST_PATHS.hosts}"
  if ! ip=$(cluster_ip); then
    log "${NODE_TRUST_HOST_PATHS.hosts} left as is"
    return 1
  fi
  if [ ! -f "$hosts" ]; then
    log "$hosts not found"
    return 1
  fi
  # Drops only lines ending in this registry's marker (another registry's marker may extend it).
  lines="$TMPDIR/node-trust-hosts"
  { awk -v marker=" $HOSTS_MARKER" 'substr($0, length($0) - length(marker) + 1) != marker' "$hosts"
    printf '%s %s %s\\n' "$ip" '${host}' "$HOSTS_MARKER"; } > "$lines" || return 1
  # Not through a pipe: a stale mount must end the script, not a subshell.
  write_in_place "$hosts" < "$lines" || return 1
  rm -f "$lines"
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

/** How long the resolver waits for the API server's answer. */
const RESOLVER_REQUEST_TIMEOUT_SECONDS = 20;

/**
 * The POSIX shell script the NodeTrust DaemonSet's `resolve` container runs (sh and kubectl): it
 * reads the registry Service from the API with the pod's ServiceAccount (allowed to `get` that one
 * Service, nothing else) and writes `<type> <ClusterIP>` to `ANSWER_FILE` for the `node-trust`
 * container, which checks it. DNS is never asked: a CNAME or an ExternalName Service cannot
 * re-point the nodes. When the read fails the answer is removed, so no stale answer is used.
 */
export function renderServiceResolverScript(options: ServiceResolverScriptOptions): string {
  const name = validateServiceName('serviceName', options.serviceName, 63);
  const namespace = validateNamespace('serviceNamespace', options.serviceNamespace);
  const interval = validateInteger('intervalSeconds', options.intervalSeconds, 1, 86_400);
  return `#!/bin/sh
# ${NODE_TRUST_MARKER}: reads the type and ClusterIP of Service
# ${namespace}/${name} from the Kubernetes API for the node-trust container.
ANSWER_FILE="\${ANSWER_FILE:-${NODE_TRUST_CONTAINER_PATHS.answerFile}}"

log() {
  echo "resolve: $*" >&2
}

# kubectl given --request-timeout (or any other client-configuration flag) skips the in-cluster
# configuration and dials localhost:8080 (kubernetes/kubernetes#93474): the shell bounds the
# request instead, killing kubectl after ${RESOLVER_REQUEST_TIMEOUT_SECONDS} seconds.
resolve_once() {
  kubectl get service '${name}' --namespace '${namespace}' --output 'jsonpath={.spec.type} {.spec.clusterIP}' > "$ANSWER_FILE.tmp" &
  request=$!
  ( sleep ${RESOLVER_REQUEST_TIMEOUT_SECONDS}; kill "$request" 2>/dev/null ) > /dev/null 2>&1 &
  timer=$!
  if wait "$request"; then
    kill "$timer" 2>/dev/null
    if echo >> "$ANSWER_FILE.tmp" && mv -f "$ANSWER_FILE.tmp" "$ANSWER_FILE"; then
      return 0
    fi
  fi
  kill "$timer" 2>/dev/null
  rm -f "$ANSWER_FILE" "$ANSWER_FILE.tmp"
  log "could not read Service ${namespace}/${name} from the API; answer removed"
  return 1
}

if [ "\${1:-}" = "--once" ]; then
  resolve_once
  exit $?
fi

trap 'exit 0' TERM INT
while :; do
  resolve_once
  sleep ${interval} &
  wait $!
done
`;
}
