import { randomBytes } from 'crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { dirname, join } from 'path';
import { Chart, Testing } from 'cdk8s';
import { parse } from 'yaml';
import { HtpasswdSource, PrivateRegistry, PrivateRegistryProps, RegistryContainerNames, RegistryUser } from '../../src';
import { REGISTRY_PATHS } from '../../src/registry/registry-config';

/** One synthesized Kubernetes object, as plain JSON. */
export type Manifest = Record<string, any>;

/** The users of the synthesized htpasswd Secret. */
export interface RegistryUsers {
  /** In the writer's file (`HtpasswdKeys.PUSH`). */
  readonly push: RegistryUser[];
  /** In the read-only reader's file (`HtpasswdKeys.PULL`). */
  readonly pull: RegistryUser[];
}

/** Synthesizes a chart (namespace `registry`) holding one `PrivateRegistry` whose htpasswd Secret has `users`. */
export function synthesizeRegistryChart(users: RegistryUsers, props: Partial<PrivateRegistryProps> = {}): Manifest[] {
  const chart = new Chart(Testing.app(), 'e2e', { namespace: 'registry' });
  new PrivateRegistry(chart, 'Registry', {
    host: 'registry.example.com',
    ...props,
    htpasswd: HtpasswdSource.fromUsers({ pushUsers: users.push, pullUsers: users.pull, saltSeed: randomBytes(32).toString('hex') }),
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

/** A registry container of the synthesized Deployment: `RegistryContainerNames.READER` or `.WRITER`. */
export function registryContainer(manifests: readonly Manifest[], name: string = RegistryContainerNames.READER): Manifest {
  const container = findManifest(manifests, 'Deployment').spec.template.spec.containers
    .find((c: Manifest) => c.name === name);
  if (!container) {
    throw new Error(`the synthesized Deployment has no container named "${name}"`);
  }
  return container;
}

/**
 * The container a Service's port leads to: the one of the synthesized Deployment (which the
 * Service must select) whose port is the Service's `targetPort`.
 */
export function containerBehindService(manifests: readonly Manifest[], serviceName: string): Manifest {
  const service = findManifest(manifests, 'Service', serviceName);
  const deployment = findManifest(manifests, 'Deployment');
  const podLabels = deployment.spec.template.metadata.labels;
  for (const [key, value] of Object.entries<string>(service.spec.selector)) {
    if (podLabels[key] !== value) {
      throw new Error(`Service ${serviceName} does not select the registry pods (${key}=${value})`);
    }
  }
  const [port] = service.spec.ports;
  const containers = (deployment.spec.template.spec.containers as Manifest[])
    .filter((c) => (c.ports as Manifest[]).some((p) => p.containerPort === port.targetPort || p.name === port.targetPort));
  if (containers.length !== 1) {
    throw new Error(`Service ${serviceName} targets ${containers.length} containers, expected 1`);
  }
  return containers[0];
}

/** Name of the Secret a registry container mounts at a container path (e.g. `REGISTRY_PATHS.tlsDir`). */
export function mountedSecretName(manifests: readonly Manifest[], mountPath: string, containerName: string = RegistryContainerNames.READER): string {
  const mount = (registryContainer(manifests, containerName).volumeMounts as Manifest[]).find((m) => m.mountPath === mountPath);
  const volumes: Manifest[] = findManifest(manifests, 'Deployment').spec.template.spec.volumes;
  const secretName = volumes.find((v) => v.name === mount?.name)?.secret?.secretName;
  if (!secretName) {
    throw new Error(`no Secret is mounted at ${mountPath}`);
  }
  return secretName;
}

/** Options of `materializeRegistry()`. */
export interface MaterializeOptions {
  /**
   * Directory standing in for the pod: the container's mounts land at
   * `<root>/<container><mountPath>`, except claims, which both containers share at
   * `<root>/volumes/<volume name>` as in the pod.
   */
  readonly root: string;
  /** Which registry container. @default RegistryContainerNames.READER */
  readonly container?: string;
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
  /** The container's root directory (`<root>/<container>`). */
  readonly containerRoot: string;
  /** Where the storage volume (blobs and manifests) lives. */
  readonly storageDir: string;
  /** The directory the container's `/tmp` mount maps to (TMPDIR of the process). */
  readonly tmpDir: string;
  /** The loopback address the registry listens on. */
  readonly addr: string;
}

/**
 * Reproduces one registry container's filesystem from the synthesized manifests under
 * `<root>/<container>`: every volume mount of the container is created at its mount path from its
 * ConfigMap, Secret (in the manifests, else `externalSecrets`) or emptyDir, honouring `items`;
 * claims are shared by the pod's containers under `<root>/volumes/`. Then writes the mounted
 * `config.yml` with only the container paths (`REGISTRY_PATHS` values, re-rooted) and `http.addr`
 * rewritten.
 */
export function materializeRegistry(manifests: readonly Manifest[], options: MaterializeOptions): MaterializedRegistry {
  const containerName = options.container ?? RegistryContainerNames.READER;
  const container = registryContainer(manifests, containerName);
  const containerRoot = join(options.root, containerName);
  const volumes: Manifest[] = findManifest(manifests, 'Deployment').spec.template.spec.volumes;
  const hostPaths = new Map<string, string>();
  for (const mount of container.volumeMounts as Manifest[]) {
    const volume = volumes.find((v) => v.name === mount.name);
    if (!volume) {
      throw new Error(`volume mount ${mount.name} has no volume`);
    }
    const target = volume.persistentVolumeClaim ? join(options.root, 'volumes', volume.name) : join(containerRoot, mount.mountPath);
    hostPaths.set(mount.mountPath, target);
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
  if (!volumes.find((v) => v.name === configMount?.name)?.configMap) {
    throw new Error(`no ConfigMap is mounted at ${REGISTRY_PATHS.configDir}`);
  }
  // The file the container reads, as the ConfigMap volume (with its items) laid it out.
  const synthesizedConfig = parse(readFileSync(join(containerRoot, REGISTRY_PATHS.configFile), 'utf-8'));
  const addr = `127.0.0.1:${options.port}`;
  const toHost = (containerPath: string): string => {
    const mountPath = [...hostPaths.keys()].find((m) => containerPath === m || containerPath.startsWith(`${m}/`));
    return mountPath ? join(hostPaths.get(mountPath)!, containerPath.slice(mountPath.length)) : join(containerRoot, containerPath);
  };
  const effectiveConfig = rewriteRegistryConfig(synthesizedConfig, toHost, addr);
  if (options.withoutTls) {
    delete effectiveConfig.http.tls;
  }
  if (options.withoutAuth) {
    delete effectiveConfig.auth;
  }

  const configPath = join(containerRoot, 'effective-config.yml');
  // JSON is YAML, and leaves no doubt about how the rewritten values are typed.
  writeFileSync(configPath, JSON.stringify(effectiveConfig, null, 2));
  return {
    synthesizedConfig,
    effectiveConfig,
    configPath,
    containerRoot,
    storageDir: toHost(REGISTRY_PATHS.storage),
    tmpDir: toHost('/tmp'),
    addr,
  };
}

/**
 * A deep copy of `config` where every string equal to a `REGISTRY_PATHS` value is replaced by
 * `toHost(value)` and `http.addr` is `addr`; nothing else changes.
 */
export function rewriteRegistryConfig(config: Record<string, any>, toHost: (containerPath: string) => string, addr: string): Record<string, any> {
  const containerPaths = new Set<string>(Object.values(REGISTRY_PATHS));
  const rewrite = (value: unknown): unknown => {
    if (typeof value === 'string') {
      return containerPaths.has(value) ? toHost(value) : value;
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
