import { AddressInfo } from 'net';
import * as tls from 'tls';
import { describeWithBinaries } from '../util/binaries';
import { run } from './exec';
import { RegistryEndpoint } from './registry-fixture';
import { useRegistryFixture } from './use-registry-fixture';

/** What a TLS client saw: the negotiated protocol and certificate, or the handshake error. */
interface HandshakeOutcome {
  readonly protocol?: string | null;
  readonly fingerprint256?: string;
  readonly authorized?: boolean;
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

/** One handshake from Node's TLS client, pinned to exactly one protocol version. */
function handshake(port: number, version: tls.SecureVersion, ca?: string): Promise<HandshakeOutcome> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      minVersion: version,
      maxVersion: version,
      // SECLEVEL=0: OpenSSL 3 would otherwise refuse TLS 1.1 on the client side before sending
      // anything; the registry must be the one that refuses.
      ciphers: 'DEFAULT@SECLEVEL=0',
      ca,
      rejectUnauthorized: ca !== undefined,
      timeout: 5_000,
    }, () => {
      resolve({ protocol: socket.getProtocol(), fingerprint256: socket.getPeerCertificate().fingerprint256, authorized: socket.authorized });
      socket.end();
    });
    socket.on('timeout', () => socket.destroy(new Error('TLS handshake timed out')));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ errorCode: error.code, errorMessage: error.message }));
  });
}

/** A handshake from `openssl s_client` pinned to TLS 1.1: a second, independent client implementation. */
async function opensslTls11(port: number): Promise<string> {
  const result = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], { timeoutMs: 10_000 });
  return result.stdout + result.stderr;
}

describeWithBinaries('TLS of the synthesized registry configuration', ['docker-registry', 'openssl'], () => {
  const fixture = useRegistryFixture();
  // A TLS server that does allow TLS 1.1, with the same certificate: the control proving that
  // the clients below really can speak TLS 1.1 here, so a refusal can only come from the registry.
  let tls11Server: tls.Server;
  let tls11Port: number;

  beforeAll(async () => {
    tls11Server = tls.createServer({
      cert: fixture.pki!.serverCertPem,
      key: fixture.pki!.serverKeyPem,
      minVersion: 'TLSv1.1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    }, (socket) => socket.end());
    await new Promise<void>((resolve) => tls11Server.listen(0, '127.0.0.1', resolve));
    tls11Port = (tls11Server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => tls11Server?.close(resolve) ?? resolve(undefined));
  });

  // Both processes of the pod: the read-only reader (nodes, tenants) and the writer (CI, Ingress).
  const endpoints = (): RegistryEndpoint[] => [fixture.reader, fixture.writer];

  test('TLS 1.2 and TLS 1.3 handshakes succeed and present the certificate given to the registry, on the reader and the writer', async () => {
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      for (const endpoint of endpoints()) {
        const port = Number(endpoint.materialized.addr.split(':')[1]);
      // WHEN a client verifying against the test CA connects with exactly this version
        const outcome = await handshake(port, version, fixture.pki!.caPem);
        // THEN it is negotiated, the chain verifies, and the certificate is the test one
        expect(outcome).toEqual({ protocol: version, fingerprint256: fixture.pki!.serverFingerprint256, authorized: true });
      }
    }
  });

  test('a TLS 1.1 client is refused by the reader and the writer (Node client)', async () => {
    // GIVEN the Node client completes TLS 1.1 with a server that allows it
    expect(await handshake(tls11Port, 'TLSv1.1')).toMatchObject({ protocol: 'TLSv1.1' });
    for (const endpoint of endpoints()) {
      const port = Number(endpoint.materialized.addr.split(':')[1]);
      const logLength = endpoint.process.output.length;

      // WHEN the same client connects to the registry
      const outcome = await handshake(port, 'TLSv1.1');

      // THEN the handshake fails on a protocol_version alert *received from the server* (a client
      // side refusal would be ERR_SSL_NO_PROTOCOLS_AVAILABLE, before anything is sent) ...
      expect(outcome.protocol).toBeUndefined();
      expect(outcome.errorCode).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
      // ... and the registry logged why it refused
      await expect(waitForLog(endpoint, logLength, 'client offered only unsupported versions')).resolves.toBe(true);
    }
  });

  test('a TLS 1.1 client is refused by the reader and the writer (openssl s_client)', async () => {
    // GIVEN s_client completes TLS 1.1 with a server that allows it
    const control = await opensslTls11(tls11Port);
    expect(control).toMatch(/Protocol\s*:\s*TLSv1\.1/);
    // s_client prints "Protocol : TLSv1.1" (the version it offered) even when the handshake
    // fails; a negotiated cipher is what shows success.
    expect(control).toMatch(/Cipher is [A-Z0-9-]+\n/);
    for (const endpoint of endpoints()) {
      const port = Number(endpoint.materialized.addr.split(':')[1]);

      // WHEN it connects to the registry with the same flags
      const output = await opensslTls11(port);

      // THEN it received the server's protocol_version alert (SSL alert number 70), rather than
      // refusing locally ("no protocols available"), and negotiated nothing
      expect(output).toMatch(/alert protocol version/);
      expect(output).toMatch(/SSL alert number 70/);
      expect(output).not.toMatch(/no protocols available/);
      expect(output).toMatch(/New, \(NONE\), Cipher is \(NONE\)/);
    }
  });
});

/** Waits (bounded) until the registry's output after `from` contains `text`. */
async function waitForLog(endpoint: RegistryEndpoint, from: number, text: string): Promise<boolean> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (endpoint.process.output.slice(from).includes(text)) {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
