import { join } from 'path';
import { Binary, installHint, which } from '../util/binaries';
import { executable, kubeBinDir, missingKubePrerequisites } from '../kube/versions';

/** The binaries the node tier runs on this machine (beyond the control plane's). */
export const NODE_BINARIES: readonly Binary[] = [
  'containerd', 'ctr', 'runc', 'nsenter', 'unshare', 'ip', 'skopeo', 'htpasswd', 'docker-registry', 'busybox', 'openssl',
];

/** The CNI plugins the node's network uses (Debian: containernetworking-plugins). */
export const CNI_BIN_DIR = '/usr/lib/cni';
const CNI_PLUGINS = ['bridge', 'host-local', 'loopback'];

/** The Kubernetes binaries a node needs besides the control plane's. */
const NODE_KUBE_BINARIES = ['kube-scheduler', 'kubelet'];


/**
 * What is missing to run a node of Kubernetes `version` here, as sentences saying what to install
 * or build; empty when everything is there. Never builds anything.
 */
export function missingNodePrerequisites(version: string): string[] {
  const missing = [...missingKubePrerequisites([version])];
  const absentKube = NODE_KUBE_BINARIES.filter((binary) => !executable(join(kubeBinDir(version), binary)));
  if (absentKube.length > 0) {
    missing.push(`Kubernetes v${version} ${absentKube.join(', ')}: run scripts/build-kube.sh ${version} ${NODE_KUBE_BINARIES.join(' ')} (a few minutes after the control plane's build)`);
  }
  const absentBinaries = NODE_BINARIES.filter((binary) => which(binary) === undefined);
  if (absentBinaries.length > 0) missing.push(`${absentBinaries.join(', ')} on PATH (${installHint(absentBinaries)})`);
  const absentPlugins = CNI_PLUGINS.filter((plugin) => !executable(join(CNI_BIN_DIR, plugin)));
  if (absentPlugins.length > 0) missing.push(`CNI plugins ${absentPlugins.join(', ')} in ${CNI_BIN_DIR} (Debian: apt-get install -y containernetworking-plugins)`);
  if (process.getuid?.() !== 0) missing.push('root (the node creates network and mount namespaces and cgroups, and runs containerd)');
  return missing;
}
