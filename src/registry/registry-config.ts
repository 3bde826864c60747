import { Yaml } from 'cdk8s';
import { validateEnum } from '../validation';

/**
 * Where each registry container finds its files; the pod mounts volumes at these paths. Both
 * containers use the same paths, each with its own files (config, htpasswd), and share the storage.
 */
export const REGISTRY_PATHS = {
  configDir: '/etc/docker/registry',
  configFile: '/etc/docker/registry/config.yml',
  storage: '/var/lib/registry',
  htpasswd: '/auth/htpasswd',
  authDir: '/auth',
  tlsDir: '/certs',
  tlsCertificate: '/certs/tls.crt',
  tlsKey: '/certs/tls.key',
} as const;

/**
 * The port the read-only registry container (the pull path: `PrivateRegistry.service`) listens
 * on. Unprivileged, so it can run as non-root.
 */
export const REGISTRY_CONTAINER_PORT = 5000;

/** The port the writing registry container (the push path: `PrivateRegistry.pushService`, the Ingress) listens on. */
export const REGISTRY_PUSH_CONTAINER_PORT = 5001;

/** Lowest TLS version the registry accepts, as spelled in distribution's `http.tls.minimumtls`. */
export enum TlsVersion {
  /** TLS 1.2 (recommended floor: every current client supports it). */
  TLS_1_2 = 'tls1.2',
  /** TLS 1.3 only. */
  TLS_1_3 = 'tls1.3',
}

/** Which of the two registry processes of the pod a configuration is for. */
export enum RegistryRole {
  /**
   * The pull path: `storage.maintenance.readonly` on, deletes off, only the pull users in its
   * htpasswd. Every write (upload, mount, manifest PUT, DELETE) is refused after authentication.
   */
  READER = 'reader',
  /** The push path: only the push users in its htpasswd; the only process that may delete. */
  WRITER = 'writer',
}

/** Inputs of the registry configuration that vary between deployments. */
export interface RegistryConfigOptions {
  /**
   * Whether the push identity may delete manifests and blobs through the API (on the writer only;
   * the read-only path never deletes). Turning it on also turns off the read-only path's
   * in-memory blob descriptor cache, which would otherwise keep serving deleted content.
   * @default false
   */
  readonly deleteEnabled?: boolean;

  /**
   * Lowest TLS version accepted.
   * @default TlsVersion.TLS_1_2
   */
  readonly minimumTls?: TlsVersion;

  /**
   * The realm announced in the Basic auth challenge.
   * @default 'Registry'
   */
  readonly authRealm?: string;

  /**
   * Log level of the registry.
   * @default 'info'
   */
  readonly logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

/** The log levels distribution accepts; any other value stops the registry at start. */
const LOG_LEVELS: readonly ('error' | 'warn' | 'info' | 'debug')[] = ['error', 'warn', 'info', 'debug'];

/**
 * The `config.yml` of one of the pod's two registry processes (distribution 2.8 configuration
 * format), built from a typed model so that every setting the chart relies on is present and
 * spelled right.
 *
 * - The reader runs with `storage.maintenance.readonly.enabled`, deletes off and no upload
 *   purging (it never writes). Its in-memory blob descriptor cache is on only while deletes are
 *   off: the cache is per process, so a delete made by the writer would not evict the reader's
 *   entry, and the reader would keep serving the deleted blob (the blob's data stays on disk until
 *   garbage collection, only its link goes). Nothing else removes content while the writer runs;
 *   a push is never hidden by the cache, which does not remember misses.
 * - The writer deletes only when `deleteEnabled`, purges abandoned uploads, and keeps its cache
 *   (its own deletes evict its own entries).
 *
 * `http.secret` is deliberately absent: with several replicas it comes from the
 * `REGISTRY_HTTP_SECRET` environment variable (a Secret), so it never lands in a ConfigMap.
 * `http.host` is absent too: `relativeurls: true` makes upload locations work under every name
 * the registry is reached by (Ingress host, Service DNS names), which a pinned host would break.
 */
export function registryConfig(role: RegistryRole, options: RegistryConfigOptions = {}): Record<string, unknown> {
  validateEnum('role', role, Object.values(RegistryRole));
  const reader = role === RegistryRole.READER;
  const deleteEnabled = options.deleteEnabled ?? false;
  const logLevel = validateEnum('config.logLevel', options.logLevel ?? 'info', LOG_LEVELS);
  const minimumTls = validateEnum('config.minimumTls', options.minimumTls ?? TlsVersion.TLS_1_2, Object.values(TlsVersion));
  return {
    version: 0.1,
    log: {
      level: logLevel,
      formatter: 'text',
    },
    storage: {
      filesystem: { rootdirectory: REGISTRY_PATHS.storage },
      delete: { enabled: !reader && deleteEnabled },
      ...(reader && deleteEnabled ? {} : { cache: { blobdescriptor: 'inmemory' } }),
      maintenance: reader
        ? { uploadpurging: { enabled: false }, readonly: { enabled: true } }
        : { uploadpurging: { enabled: true, age: '168h', interval: '24h', dryrun: false } },
    },
    http: {
      addr: `:${reader ? REGISTRY_CONTAINER_PORT : REGISTRY_PUSH_CONTAINER_PORT}`,
      relativeurls: true,
      tls: {
        certificate: REGISTRY_PATHS.tlsCertificate,
        key: REGISTRY_PATHS.tlsKey,
        minimumtls: minimumTls,
      },
      headers: {
        'X-Content-Type-Options': ['nosniff'],
      },
    },
    auth: {
      htpasswd: {
        realm: options.authRealm ?? 'Registry',
        path: REGISTRY_PATHS.htpasswd,
      },
    },
    health: {
      storagedriver: { enabled: true, interval: '10s', threshold: 3 },
    },
  };
}

/** `registryConfig()` rendered as the YAML text of `config.yml`. */
export function renderRegistryConfig(role: RegistryRole, options: RegistryConfigOptions = {}): string {
  return Yaml.stringify(registryConfig(role, options));
}
