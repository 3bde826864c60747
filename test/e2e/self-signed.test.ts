import { mkdtempSync, rmSync } from 'fs';
import { randomBytes, X509Certificate } from 'crypto';
import { tmpdir } from 'os';
import { join } from 'path';
import { RegistryCertificate, SelfSignedRegistryCertificate } from '../../src';
import { describeWithBinaries } from '../util/binaries';
import { httpRequest } from './registry-client';
import { freeLoopbackPort, killAllRegistries, RegistryProcess } from './registry-process';
import { materializeRegistry, synthesizeRegistryChart } from './synthesized-registry';

// The opt-in self-signed certificate, taken from the synthesized TLS Secret (nothing supplied by
// the test), served by the real registry and verified the way a node that trusts it would.
describeWithBinaries('the real registry serving a synthesized self-signed certificate', ['docker-registry'], () => {
  const host = 'registry.example.com';
  const credentials = { username: 'e2e-puller', password: randomBytes(24).toString('base64url') };
  const pushCredentials = { username: 'e2e-pusher', password: randomBytes(24).toString('base64url') };
  let workDir: string;
  let certificate: SelfSignedRegistryCertificate;
  let registry: RegistryProcess;

  beforeAll(async () => {
    // GIVEN a registry whose certificate the construct made, valid from yesterday (UTC midnight)
    workDir = mkdtempSync(join(tmpdir(), 'cdk8s-registry-self-signed-'));
    const today = new Date();
    const notBefore = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - 1));
    certificate = RegistryCertificate.selfSigned({ seed: randomBytes(32).toString('base64'), notBefore });
    const manifests = synthesizeRegistryChart({ push: [pushCredentials], pull: [credentials] }, { certificate });

    // WHEN the registry runs with the synthesized Secrets only
    const materialized = materializeRegistry(manifests, { root: join(workDir, 'pod'), port: await freeLoopbackPort() });
    registry = await RegistryProcess.start({
      configPath: materialized.configPath,
      addr: materialized.addr,
      tmpDir: materialized.tmpDir,
      logDir: workDir,
      caPem: certificate.certificatePem,
      servername: host,
    });
  });

  afterAll(async () => {
    await killAllRegistries();
    rmSync(workDir, { recursive: true, force: true });
  });

  test('a client trusting only that certificate verifies it for the registry host and authenticates', async () => {
    // THEN
    let served: string | undefined;
    const response = await httpRequest(`${registry.url}/v2/`, {
      caPem: certificate.certificatePem,
      servername: host,
      credentials,
      onPeerCertificate: (peer) => { served = peer.fingerprint256; },
    });
    expect(response.status).toBe(200);
    expect(served).toBe(new X509Certificate(certificate.certificatePem).fingerprint256);
  });

  test('the same client refuses the certificate for a name it does not cover', async () => {
    await expect(httpRequest(`${registry.url}/v2/`, { caPem: certificate.certificatePem, servername: 'other.example.com', credentials }))
      .rejects.toThrow(/Hostname\/IP does not match certificate's altnames/);
  });
});
