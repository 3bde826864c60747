import { randomBytes } from 'crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { PrivateRegistryProps, RegistryContainerNames } from '../../src';
import { REGISTRY_PATHS } from '../../src/registry/registry-config';
import { Credentials, RegistryClient } from './registry-client';
import { freeLoopbackPort, RegistryProcess } from './registry-process';
import { Skopeo } from './skopeo';
import { MaterializedRegistry, materializeRegistry, Manifest, mountedSecretName, synthesizeRegistryChart } from './synthesized-registry';
import { createTestPki, TestPki } from './test-pki';

/** Options of `startSynthesizedRegistry()`. */
export interface RegistryFixtureOptions {
  /** Serve TLS with a test certificate in place of the TLS Secret. @default true */
  readonly tls?: boolean;
  /** Keep the synthesized htpasswd authentication. @default true */
  readonly auth?: boolean;
  /** Further props of the synthesized `PrivateRegistry` (e.g. `config`). @default - none */
  readonly registry?: Partial<PrivateRegistryProps>;
}

/** One of the pod's two registry processes, with clients bound to it. */
export interface RegistryEndpoint {
  /** The container it runs (`RegistryContainerNames.READER` or `.WRITER`). */
  readonly container: string;
  readonly materialized: MaterializedRegistry;
  /** The running process; replaced by `restart()`. */
  readonly process: RegistryProcess;
  /**
   * HTTP API client authenticated as the identity of this path (push on the writer, pull on the
   * reader) when `auth` is on.
   */
  readonly client: RegistryClient;
  /** skopeo with the CA and the identity of this path. */
  readonly skopeo: Skopeo;
  /** A client of this process as any user (or anonymous). */
  clientAs(credentials?: Credentials): RegistryClient;
  /** skopeo against this process as any user (or anonymous). */
  skopeoAs(credentials?: Credentials): Skopeo;
}

/** A registry pod running the synthesized configuration: a writer and a read-only reader on one storage. */
export interface RegistryFixture {
  /** Temporary directory holding everything (removed by `dispose()`). */
  readonly workDir: string;
  /** The synthesized chart. */
  readonly manifests: Manifest[];
  /** The push user in the synthesized htpasswd Secret, with its generated password. */
  readonly credentials: Credentials;
  /** The pull user in the synthesized htpasswd Secret, with its generated password. */
  readonly pullCredentials: Credentials;
  /** The writer (push path). */
  readonly writer: RegistryEndpoint;
  /** The read-only reader (pull path). */
  readonly reader: RegistryEndpoint;
  /** The writer's materialized files (same as `writer.materialized`). */
  readonly materialized: MaterializedRegistry;
  /** The test CA and server certificate, when `tls` is on. */
  readonly pki?: TestPki;
  /** The writer process (same as `writer.process`). */
  readonly process: RegistryProcess;
  /** The writer's client, as the push user (same as `writer.client`). */
  readonly client: RegistryClient;
  /** skopeo against the writer as the push user (same as `writer.skopeo`). */
  readonly skopeo: Skopeo;
  /** A directory under `workDir` for callers' files (OCI layouts, pulls). */
  readonly scratchDir: string;
  /**
   * Starts a new process, on the same configuration, storage and port, for each of the two that is
   * gone (kill one or both first).
   */
  restart(): Promise<void>;
  /** Kills both processes and removes `workDir` (kept, and its path printed, when E2E_KEEP_WORKDIR=1). */
  dispose(): Promise<void>;
}

/** 24 random bytes: 32 base64url characters, above the 16 the construct requires. */
function randomCredentials(username: string): Credentials {
  return { username, password: randomBytes(24).toString('base64url') };
}

/**
 * Synthesizes a chart with a `PrivateRegistry` whose htpasswd Secret comes from
 * `HtpasswdSource.fromUsers()` with a push and a pull user with freshly generated passwords, lays
 * out both registry containers' files with `materializeRegistry()` (one shared storage) and starts
 * `docker-registry serve` for each on a free loopback port.
 */
export async function startSynthesizedRegistry(options: RegistryFixtureOptions = {}): Promise<RegistryFixture> {
  const tls = options.tls ?? true;
  const auth = options.auth ?? true;
  const workDir = mkdtempSync(join(tmpdir(), 'cdk8s-registry-e2e-'));
  const started: RegistryProcess[] = [];
  try {
    const credentials = randomCredentials('e2e-pusher');
    const pullCredentials = randomCredentials('e2e-puller');
    const manifests = synthesizeRegistryChart({ push: [credentials], pull: [pullCredentials] }, options.registry);
    const pki = tls ? await createTestPki(join(workDir, 'pki')) : undefined;
    const scratchDir = join(workDir, 'scratch');
    mkdirSync(scratchDir);

    const endpoint = async (container: string, identity: Credentials): Promise<RegistryEndpoint & { restart(): Promise<void> }> => {
      const materialized = materializeRegistry(manifests, {
        root: join(workDir, 'pod'),
        container,
        port: await freeLoopbackPort(),
        externalSecrets: pki ? { [mountedSecretName(manifests, REGISTRY_PATHS.tlsDir, container)]: { 'tls.crt': pki.serverCertPem, 'tls.key': pki.serverKeyPem } } : undefined,
        withoutTls: !tls,
        withoutAuth: !auth,
      });
      const logDir = materialized.containerRoot;
      let current = await RegistryProcess.start({
        configPath: materialized.configPath,
        addr: materialized.addr,
        tmpDir: materialized.tmpDir,
        caPem: pki?.caPem,
        logDir,
      });
      started.push(current);
      const clientAs = (user?: Credentials) => new RegistryClient(current.url, user, pki?.caPem);
      let skopeoCount = 0;
      const skopeoAs = (user?: Credentials) => new Skopeo({
        registryAddr: materialized.addr, workDir: join(workDir, `skopeo-${container}-${++skopeoCount}`), caDir: pki?.caDir, credentials: user,
      });
      const pathIdentity = auth ? identity : undefined;
      return {
        container,
        materialized,
        get process() {
          return current;
        },
        client: clientAs(pathIdentity),
        skopeo: skopeoAs(pathIdentity),
        clientAs,
        skopeoAs,
        async restart() {
          if (!current.running) {
            current = await current.restart();
            started.push(current);
          }
        },
      };
    };
    const writer = await endpoint(RegistryContainerNames.WRITER, credentials);
    const reader = await endpoint(RegistryContainerNames.READER, pullCredentials);

    return {
      workDir,
      manifests,
      credentials,
      pullCredentials,
      writer,
      reader,
      pki,
      materialized: writer.materialized,
      get process() {
        return writer.process;
      },
      client: writer.client,
      skopeo: writer.skopeo,
      scratchDir,
      async restart() {
        if (writer.process.running && reader.process.running) {
          throw new Error('restart() needs a registry process to be gone; kill() one first');
        }
        await writer.restart();
        await reader.restart();
      },
      async dispose() {
        await writer.process.kill();
        await reader.process.kill();
        if (process.env.E2E_KEEP_WORKDIR === '1') {
          // eslint-disable-next-line no-console
          console.warn(`E2E_KEEP_WORKDIR=1: kept ${workDir} (storage, registry.log, config) for inspection`);
          return;
        }
        rmSync(workDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all(started.map((p) => p.kill()));
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
}
