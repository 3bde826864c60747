import { mkdtempSync, rmSync } from 'fs';
import { randomBytes, X509Certificate } from 'crypto';
import { tmpdir } from 'os';
import { join } from 'path';
import { RegistryCertificate, RegistryContainerNames, SelfSignedRegistryCertificate } from '../../src';
import { describeWithBinaries } from '../util/binaries';
import { httpRequest } from './registry-client';
import { freeLoopbackPort, killAllRegistries, RegistryProcess } from './registry-process';
import { findManifest, Manifest, materializeRegistry, synthesizeRegistryChart } from './synthesized-registry';

// The opt-in self-signed certificate, taken from the synthesized TLS Secret (nothing supplied by
// the test), served by both real registry processes of the pod and verified the way a node, CI
// and the Ingress controller that trust it would.
describeWithBinaries('the real registry serving a synthesized self-signed certificate', ['docker-registry'], () => {
  const host = 'registry.example.com';
  const credentials = { username: 'e2e-puller', password: randomBytes(24).toString('base64url') };
  const pushCredentials = { username: 'e2e-pusher', password: randomBytes(24).toString('base64url') };
  // The names each path is reached by: nodes and tenants pull through the host (mapped to the
  // pull Service) and the pull Service's names; CI pushes through the host (the Ingress) and the
  // push Service's names.
  const pullNames = [host, 'registry.registry.svc', 'registry.registry.svc.cluster.local'];
  const pushNames = [host, 'registry-push.registry.svc', 'registry-push.registry.svc.cluster.local'];
  let workDir: string;
  let certificate: SelfSignedRegistryCertificate;
  let manifests: Manifest[];
  const processes: Record<string, RegistryProcess> = {};

  beforeAll(async () => {
    // GIVEN a registry whose certificate the construct made, valid from yesterday (UTC midnight)
    workDir = mkdtempSync(join(tmpdir(), 'cdk8s-registry-self-signed-'));
    const today = new Date();
    const notBefore = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - 1));
    certificate = RegistryCertificate.selfSigned({ seed: randomBytes(32).toString('base64'), notBefore });
    manifests = synthesizeRegistryChart({ push: [pushCredentials], pull: [credentials] }, { certificate });

    // WHEN both registry processes run with the synthesized Secrets only
    for (const container of [RegistryContainerNames.READER, RegistryContainerNames.WRITER]) {
      const materialized = materializeRegistry(manifests, { root: join(workDir, 'pod'), container, port: await freeLoopbackPort() });
      processes[container] = await RegistryProcess.start({
        configPath: materialized.configPath,
        addr: materialized.addr,
        tmpDir: materialized.tmpDir,
        logDir: materialized.containerRoot,
        caPem: certificate.certificatePem,
        servername: host,
      });
    }
  });

  afterAll(async () => {
    await killAllRegistries();
    rmSync(workDir, { recursive: true, force: true });
  });

  test('the certificate names every name a synthesized object routes to the registry by', () => {
    // Every name in use: the Ingress host, and each Service's in-cluster names.
    const serviceNames = manifests.filter((m) => m.kind === 'Service')
      .flatMap((m) => [`${m.metadata.name}.${m.metadata.namespace}.svc`, `${m.metadata.name}.${m.metadata.namespace}.svc.cluster.local`]);
    const inUse = [findManifest(manifests, 'Ingress').spec.rules[0].host, ...serviceNames];
    expect([...new Set([...pullNames, ...pushNames])].sort()).toEqual([...inUse].sort());
    const covered = new X509Certificate(certificate.certificatePem).subjectAltName?.split(', ').map((name) => name.replace(/^DNS:/, ''));
    expect([...covered!].sort()).toEqual([...inUse].sort());
  });

  test.each([
    [RegistryContainerNames.READER, 'pull', pullNames],
    [RegistryContainerNames.WRITER, 'push', pushNames],
  ])('a client trusting only that certificate verifies the %s for every name of the %s path and authenticates', async (container, _, names) => {
    for (const servername of names) {
      let served: string | undefined;
      const response = await httpRequest(`${processes[container].url}/v2/`, {
        caPem: certificate.certificatePem,
        servername,
        credentials: container === RegistryContainerNames.READER ? credentials : pushCredentials,
        onPeerCertificate: (peer) => { served = peer.fingerprint256; },
      });
      expect(response.status).toBe(200);
      expect(served).toBe(new X509Certificate(certificate.certificatePem).fingerprint256);
    }
  });

  test('the Ingress controller verifies the writer with the CA and the name its annotations give', async () => {
    // GIVEN what ingress-nginx reads: the Secret named by proxy-ssl-secret (its ca.crt) and proxy-ssl-name
    const annotations = findManifest(manifests, 'Ingress').metadata.annotations;
    expect(annotations['nginx.ingress.kubernetes.io/proxy-ssl-verify']).toBe('on');
    const [namespace, secretName] = annotations['nginx.ingress.kubernetes.io/proxy-ssl-secret'].split('/');
    const secret = findManifest(manifests, 'Secret', secretName);
    expect(secret.metadata.namespace).toBe(namespace);
    const caPem: string = secret.stringData['ca.crt'];
    // WHEN it connects to the Ingress backend (the push Service: the writer) as nginx would
    const response = await httpRequest(`${processes[RegistryContainerNames.WRITER].url}/v2/`, {
      caPem, servername: annotations['nginx.ingress.kubernetes.io/proxy-ssl-name'], credentials: pushCredentials,
    });
    // THEN the writer's certificate verifies
    expect(response.status).toBe(200);
  });

  test('the same client refuses the certificate for a name it does not cover', async () => {
    await expect(httpRequest(`${processes[RegistryContainerNames.READER].url}/v2/`, { caPem: certificate.certificatePem, servername: 'other.example.com', credentials }))
      .rejects.toThrow(/Hostname\/IP does not match certificate's altnames/);
  });
});
