import { randomBytes } from 'crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
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
}

/** A registry running the synthesized configuration, with clients bound to it. */
export interface RegistryFixture {
  /** Temporary directory holding everything (removed by `dispose()`). */
  readonly workDir: string;
  /** The synthesized chart. */
  readonly manifests: Manifest[];
  /** The user in the synthesized htpasswd Secret, with its generated password. */
  readonly credentials: Credentials;
  readonly materialized: MaterializedRegistry;
  /** The test CA and server certificate, when `tls` is on. */
  readonly pki?: TestPki;
  /** The running process; replaced by `restart()`. */
  readonly process: RegistryProcess;
  /** HTTP API client, authenticated as `credentials` when `auth` is on. */
  readonly client: RegistryClient;
  /** skopeo with the CA and credentials. */
  readonly skopeo: Skopeo;
  /** A directory under `workDir` for callers' files (OCI layouts, pulls). */
  readonly scratchDir: string;
  /** Starts a new process on the same configuration, storage and port (the old one must be gone). */
  restart(): Promise<void>;
  /** Kills the registry and removes `workDir` (kept, and its path printed, when E2E_KEEP_WORKDIR=1). */
  dispose(): Promise<void>;
}

/**
 * Synthesizes a chart with a `PrivateRegistry` whose htpasswd Secret comes from
 * `HtpasswdSource.fromUsers()` with a freshly generated password, lays out the pod's files with
 * `materializeRegistry()` and starts `docker-registry serve` on a free loopback port.
 */
export async function startSynthesizedRegistry(options: RegistryFixtureOptions = {}): Promise<RegistryFixture> {
  const tls = options.tls ?? true;
  const auth = options.auth ?? true;
  const workDir = mkdtempSync(join(tmpdir(), 'cdk8s-registry-e2e-'));
  try {
    // 24 random bytes: 32 base64url characters, above the 16 the construct requires.
    const credentials = { username: 'e2e-pusher', password: randomBytes(24).toString('base64url') };
    const manifests = synthesizeRegistryChart([credentials]);
    const pki = tls ? await createTestPki(join(workDir, 'pki')) : undefined;
    const port = await freeLoopbackPort();
    const materialized = materializeRegistry(manifests, {
      root: join(workDir, 'pod'),
      port,
      externalSecrets: pki ? { [mountedSecretName(manifests, REGISTRY_PATHS.tlsDir)]: { 'tls.crt': pki.serverCertPem, 'tls.key': pki.serverKeyPem } } : undefined,
      withoutTls: !tls,
      withoutAuth: !auth,
    });
    const scratchDir = join(workDir, 'scratch');
    mkdirSync(scratchDir);
    const processOptions = {
      configPath: materialized.configPath,
      addr: materialized.addr,
      tmpDir: materialized.tmpDir,
      caPem: pki?.caPem,
      logDir: workDir,
    };
    let current = await RegistryProcess.start(processOptions);
    const clientCredentials = auth ? credentials : undefined;
    return {
      workDir,
      manifests,
      credentials,
      materialized,
      pki,
      get process() {
        return current;
      },
      client: new RegistryClient(current.url, clientCredentials, pki?.caPem),
      skopeo: new Skopeo({ registryAddr: materialized.addr, workDir: join(workDir, 'skopeo'), caDir: pki?.caDir, credentials: clientCredentials }),
      scratchDir,
      async restart() {
        if (current.running) {
          throw new Error('restart() needs the previous registry process to be gone; kill() it first');
        }
        current = await current.restart();
      },
      async dispose() {
        await current.kill();
        if (process.env.E2E_KEEP_WORKDIR === '1') {
          // eslint-disable-next-line no-console
          console.warn(`E2E_KEEP_WORKDIR=1: kept ${workDir} (storage, registry.log, config) for inspection`);
          return;
        }
        rmSync(workDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
}
