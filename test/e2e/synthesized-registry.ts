import { mkdirSync, writeFileSync } from 'fs';
import { dirname, join } from 'path';
import { Chart, Testing } from 'cdk8s';
import { parse } from 'yaml';
import { HtpasswdSource, PrivateRegistry, PrivateRegistryProps, RegistryUser } from '../../src';
import { REGISTRY_PATHS } from '../../src/registry/registry-config';

/** One synthesized Kubernetes object, as plain JSON. */
export type Manifest = Record<string, any>;

/** Synthesizes a chart (namespace `registry`) holding one `PrivateRegistry` whose htpasswd Secret has `users`. */
export function synthesizeRegistryChart(users: RegistryUser[], props: Partial<PrivateRegistryProps> = {}): Manifest[] {
  const chart = new Chart(Testing.app(), 'e2e', { namespace: 'registry' });
  new PrivateRegistry(chart, 'Registry', {
    host: 'registry.example.com',
    ...props,
    htpasswd: HtpasswdSource.fromUsers(users),
  });
  return Testing.synth(chart);
}

/** The single manifest of `kind` (and `name`, when given); throws unless exactly one matches. */
export function findManifest(manifests: readonly Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata?.name === name));
  if (found.length !== 1) {
    throw new Error(`expected exactly one ${kind}${name ? ` named ${name}` : ''} in the synthesized manifests, found ${found.length}`);
  }
  return found[0];
}

/** The container named `registry` of the synthesized Deployment. */
export function registryContainer(manifests: readonly Manifest[]): Manifest {
  const container = findManifest(manifests, 'Deployment').spec.template.spec.containers
    .find((c: Manifest) => c.name === 'registry');
  if (!container) {
    throw new Error('the synthesized Deployment has no container named "registry"');
  }
  return container;
}

/** Name of the Secret the `registry` container mounts at a container path (e.g. `REGISTRY_PATHS.tlsDir`). */
export function mountedSecretName(manifests: readonly Manifest[], mountPath: string): string {
  const mount = (registryContainer(manifests).volumeMounts as Manifest[]).find((m) => m.mountPath === mountPath);
  const volumes: Manifest[] = findManifest(manifests, 'Deployment').spec.template.spec.volumes;
  const secretName = volumes.find((v) => v.name === mount?.name)?.secret?.secretName;
  if (!secretName) {
    throw new Error(`no Secret is mounted at ${mountPath}`);
  }
  return secretName;
}

/** Options of `materializeRegistry()`. */
export interface MaterializeOptions {
  /** Directory standing in for the container's root filesystem; mounts land at `<root><mountPath>`. */
  readonly root: string;
  /** The loopback port the registry listens on instead of the synthesized `http.addr`. */
  readonly port: number;
  /**
   * Contents of Secrets the chart references but does not create (the TLS Secret), by Secret name
   * and key, standing in for what the cluster would hold.
   */
  readonly externalSecrets?: Record<string, Record<string, string>>;
  /** Drop `http.tls` (plain HTTP), e.g. to measure the cost of TLS. @default false */
  readonly withoutTls?: boolean;
  /** Drop `auth` (anonymous access), e.g. to measure the cost of bcrypt. @default false */
  readonly withoutAuth?: boolean;
}

/** A synthesized registry laid out on disk, ready for `docker-registry serve`. */
export interface MaterializedRegistry {
  /** `config.yml` exactly as the ConfigMap holds it, parsed. */
  readonly synthesizedConfig: Record<string, any>;
  /** The configuration the process runs with (paths and listen address rewritten). */
  readonly effectiveConfig: Record<string, any>;
  /** Path of the rewritten `config.yml`. */
  readonly configPath: string;
  /** Where the storage volume (blobs and manifests) lives. */
  readonly storageDir: string;
  /** The directory the container's `/tmp` mount maps to (TMPDIR of the process). */
  readonly tmpDir: string;
  /** The loopback address the registry listens on. */
  readonly addr: string;
}

/**
 * Reproduces the registry pod's filesystem from the synthesized manifests under `root`: every
 * volume mount of the `registry` container is created at `<root><mountPath>` from its ConfigMap,
 * Secret (in the manifests, else `externalSecrets`), claim or emptyDir, honouring `items`. Then
 * writes the ConfigMap's `config.yml` with only the container paths (`REGISTRY_PATHS` values,
 * prefixed with `root`) and `http.addr` rewritten.
 */
export function materializeRegistry(manifests: readonly Manifest[], options: MaterializeOptions): MaterializedRegistry {
  const container = registryContainer(manifests);
  const volumes: Manifest[] = findManifest(manifests, 'Deployment').spec.template.spec.volumes;
  for (const mount of container.volumeMounts as Manifest[]) {
    const volume = volumes.find((v) => v.name === mount.name);
    if (!volume) {
      throw new Error(`volume mount ${mount.name} has no volume`);
    }
    const target = join(options.root, mount.mountPath);
    mkdirSync(target, { recursive: true });
    if (volume.configMap) {
      writeVolumeFiles(target, findManifest(manifests, 'ConfigMap', volume.configMap.name).data, volume.configMap.items);
    } else if (volume.secret) {
      const files = secretFiles(manifests, volume.secret.secretName, options.externalSecrets);
      if (files) {
        writeVolumeFiles(target, files, volume.secret.items);
      }
    } else if (!volume.persistentVolumeClaim && !volume.emptyDir) {
      throw new Error(`volume ${volume.name} has a source this harness does not reproduce: ${JSON.stringify(volume)}`);
    }
  }

  const configMount = (container.volumeMounts as Manifest[]).find((m) => m.mountPath === REGISTRY_PATHS.configDir);
  const configMapName: string | undefined = volumes.find((v) => v.name === configMount?.name)?.configMap?.name;
  if (!configMapName) {
    throw new Error(`no ConfigMap is mounted at ${REGISTRY_PATHS.configDir}`);
  }
  const configText: string = findManifest(manifests, 'ConfigMap', configMapName).data['config.yml'];
  const synthesizedConfig = parse(configText);
  const addr = `127.0.0.1:${options.port}`;
  const effectiveConfig = rewriteRegistryConfig(synthesizedConfig, options.root, addr);
  if (options.withoutTls) {
    delete effectiveConfig.http.tls;
  }
  if (options.withoutAuth) {
    delete effectiveConfig.auth;
  }

  const configPath = join(options.root, 'effective-config.yml');
  // JSON is YAML, and leaves no doubt about how the rewritten values are typed.
  writeFileSync(configPath, JSON.stringify(effectiveConfig, null, 2));
  return {
    synthesizedConfig,
    effectiveConfig,
    configPath,
    storageDir: join(options.root, REGISTRY_PATHS.storage),
    tmpDir: join(options.root, '/tmp'),
    addr,
  };
}

/**
 * A deep copy of `config` where every string equal to a `REGISTRY_PATHS` value is prefixed with
 * `root` and `http.addr` is `addr`; nothing else changes.
 */
export function rewriteRegistryConfig(config: Record<string, any>, root: string, addr: string): Record<string, any> {
  const containerPaths = new Set<string>(Object.values(REGISTRY_PATHS));
  const rewrite = (value: unknown): unknown => {
    if (typeof value === 'string') {
      return containerPaths.has(value) ? join(root, value) : value;
    }
    if (Array.isArray(value)) {
      return value.map(rewrite);
    }
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, rewrite(v)]));
    }
    return value;
  };
  const rewritten = rewrite(config) as Record<string, any>;
  rewritten.http.addr = addr;
  return rewritten;
}

function secretFiles(
  manifests: readonly Manifest[],
  secretName: string,
  external: Record<string, Record<string, string>> | undefined,
): Record<string, string> | undefined {
  const secret = manifests.find((m) => m.kind === 'Secret' && m.metadata?.name === secretName);
  if (!secret) {
    // A Secret the chart only references: the caller provides it, or the mount stays empty as
    // it would in a cluster without the Secret, and the registry fails on the missing file.
    return external?.[secretName];
  }
  const decoded = Object.fromEntries(Object.entries<string>(secret.data ?? {})
    .map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf-8')]));
  // The API server merges stringData over data; so does this.
  return { ...decoded, ...secret.stringData };
}

function writeVolumeFiles(target: string, data: Record<string, string>, items?: Array<{ key: string; path: string }>): void {
  const entries = items ? items.map((item) => [item.key, item.path]) : Object.keys(data).map((key) => [key, key]);
  for (const [key, path] of entries) {
    if (data[key] === undefined) {
      throw new Error(`volume item ${key} is missing from its ConfigMap or Secret`);
    }
    const file = join(target, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, data[key], { mode: 0o600 });
  }
}
