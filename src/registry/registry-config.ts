import { Yaml } from 'cdk8s';
import { validateEnum } from '../validation';

/** Where the registry container finds its files; the Deployment mounts volumes at these paths. */
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

/** The port the registry container listens on (unprivileged, so it can run as non-root). */
export const REGISTRY_CONTAINER_PORT = 5000;

/** Lowest TLS version the registry accepts, as spelled in distribution's `http.tls.minimumtls`. */
export enum TlsVersion {
  /** TLS 1.2 (recommended floor: every current client supports it). */
  TLS_1_2 = 'tls1.2',
  /** TLS 1.3 only. */
  TLS_1_3 = 'tls1.3',
}

/** Inputs of the registry configuration that vary between deployments. */
export interface RegistryConfigOptions {
  /**
   * Whether manifests and blobs may be deleted through the API (needed for garbage collection).
   * @default true
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
 * The registry's `config.yml` (distribution 2.8 configuration format), built from a typed model
 * so that every setting the chart relies on is present and spelled right.
 *
 * `http.secret` is deliberately absent: with several replicas it comes from the
 * `REGISTRY_HTTP_SECRET` environment variable (a Secret), so it never lands in a ConfigMap.
 * `http.host` is absent too: `relativeurls: true` makes upload locations work under every name
 * the registry is reached by (Ingress host, Service DNS names), which a pinned host would break.
 */
export function registryConfig(options: RegistryConfigOptions = {}): Record<string, unknown> {
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
      delete: { enabled: options.deleteEnabled ?? true },
      cache: { blobdescriptor: 'inmemory' },
      maintenance: {
        uploadpurging: { enabled: true, age: '168h', interval: '24h', dryrun: false },
      },
    },
    http: {
      addr: `:${REGISTRY_CONTAINER_PORT}`,
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
export function renderRegistryConfig(options: RegistryConfigOptions = {}): string {
  return Yaml.stringify(registryConfig(options));
}
