#!/bin/sh
# Removes everything a test node started: the processes in its network namespace (containerd,
# kubelet, shims, relays, host-network containers) and in its cgroups (every other container),
# the extra PIDs given (processes the suite started outside the namespace), then the network
# namespace, the cgroups and the work directory. Mounts need no unmounting: they all live in the
# node's private mount namespace, which disappears with its last process.
#
#   node-teardown.sh NETNS CGROUP_ROOT WORKDIR KEEP_WORKDIR [PID ...]
#
# With WAIT_FOR_PID set, first waits until that process is gone: the suite starts a copy of this
# script that way as a watchdog, so a crashed test run leaves nothing behind either.
set -u
netns=$1
cgroup=${2#/}
workdir=$3
keep=$4
shift 4

if [ -n "${WAIT_FOR_PID:-}" ]; then
  while kill -0 "$WAIT_FOR_PID" 2>/dev/null; do sleep 2; done
fi

node_pids() {
  if [ -e "/run/netns/$netns" ]; then ip netns pids "$netns" 2>/dev/null; fi
  for dir in /sys/fs/cgroup/*/"$cgroup"; do
    if [ -d "$dir" ]; then find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null; fi
  done
}

for pid in "$@"; do kill -9 "$pid" 2>/dev/null; done
round=0
while [ "$round" -lt 50 ]; do
  pids=$(node_pids | sort -u)
  [ -z "$pids" ] && break
  for pid in $pids; do kill -9 "$pid" 2>/dev/null; done
  sleep 0.2
  round=$((round + 1))
done
left=$(node_pids | sort -u | tr '\n' ' ')
[ -n "$left" ] && echo "node-teardown: processes still running after 10 s: $left" >&2

if [ -e "/run/netns/$netns" ]; then ip netns del "$netns" || echo "node-teardown: could not delete network namespace $netns" >&2; fi
for dir in /sys/fs/cgroup/*/"$cgroup"; do
  if [ -d "$dir" ]; then find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || echo "node-teardown: could not remove cgroup $dir" >&2; fi
done
if [ "$keep" != 1 ]; then rm -rf "$workdir"; fi
exit 0
