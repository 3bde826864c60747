import { accessSync, constants, existsSync, readFileSync } from 'fs';
import { homedir } from 'os';
import { join } from 'path';
import { which } from '../util/binaries';

/** The Kubernetes versions the tier runs when TRUSTED_REGISTRY_KUBE_VERSIONS is unset: the current one. */
export const DEFAULT_KUBE_VERSIONS = ['1.33.13'];

/** The binaries one control plane needs, as `scripts/build-kube.sh` builds them. */
export const CONTROL_PLANE_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'] as const;

/** Where the tier writes the description of the running clusters for the test files (set by globalSetup). */
export const CLUSTERS_FILE_ENV = 'TRUSTED_REGISTRY_KUBE_CLUSTERS_FILE';

/** A running control plane, as the test files see it. */
export interface KubeCluster {
  /** e.g. `1.33.13`. */
  readonly version: string;
  readonly minor: number;
  /** `https://127.0.0.1:<port>`. */
  readonly server: string;
  /** A kubeconfig for a cluster admin (group system:masters). */
  readonly kubeconfig: string;
  /** The PEM files behind the kubeconfig, for clients that do not read kubeconfigs. */
  readonly caFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** The version's kubectl. */
  readonly kubectl: string;
  /** The API server's audit log (JSON lines, level Metadata for the workloads the policy checks). */
  readonly auditLog: string;
  /** Feature gates the API server runs with, e.g. `ImageVolume=true` on 1.31+. */
  readonly featureGates: readonly string[];
}

/** The versions to run: TRUSTED_REGISTRY_KUBE_VERSIONS (comma-separated), or DEFAULT_KUBE_VERSIONS. */
export function kubeVersions(env: NodeJS.ProcessEnv = process.env): string[] {
  const listed = (env.TRUSTED_REGISTRY_KUBE_VERSIONS ?? '').split(',').map((v) => v.trim()).filter(Boolean);
  const versions = listed.length > 0 ? listed : DEFAULT_KUBE_VERSIONS;
  for (const version of versions) {
    if (!/^1\.\d+\.\d+$/.test(version)) {
      throw new Error(`TRUSTED_REGISTRY_KUBE_VERSIONS must list versions like 1.33.13, got "${version}"`);
    }
  }
  return versions;
}

/** The cache `scripts/build-kube.sh` builds into. */
export function kubeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TRUSTED_REGISTRY_KUBE_CACHE ?? join(homedir(), '.cache', 'cdk8s-trusted-registry', 'kube');
}

export function kubeBinDir(version: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(kubeCacheDir(env), `v${version}`, 'bin');
}

/** Whether `path` is a file this process may execute. */
export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * What is missing to run `versions`, as sentences naming what to install or run; empty when every
 * binary is built. Never builds anything: the build takes tens of minutes, skipping must not.
 */
export function missingKubePrerequisites(versions: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const missing: string[] = [];
  const goInstalled = which('go') !== undefined || executable('/usr/local/go/bin/go');
  for (const version of versions) {
    const absent = CONTROL_PLANE_BINARIES.filter((binary) => !executable(join(kubeBinDir(version, env), binary)));
    if (absent.length === 0) continue;
    const build = `scripts/build-kube.sh ${version} (builds them from the Go module proxy into ${kubeBinDir(version, env)}; 6 to 45 minutes the first time on 2 cores)`;
    missing.push(goInstalled
      ? `Kubernetes v${version} ${absent.join(', ')}: run ${build}`
      : `Kubernetes v${version} ${absent.join(', ')}: install Go 1.24 or later (https://go.dev/doc/install), then run ${build}`);
  }
  if (which('openssl') === undefined) missing.push('openssl on PATH (Debian: apt-get install -y openssl)');
  return missing;
}

/** The clusters globalSetup started for this run; empty when it started none. */
export function runningClusters(env: NodeJS.ProcessEnv = process.env): KubeCluster[] {
  const file = env[CLUSTERS_FILE_ENV];
  if (!file || !existsSync(file)) return [];
  return JSON.parse(readFileSync(file, 'utf-8')) as KubeCluster[];
}
