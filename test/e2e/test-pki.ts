import { X509Certificate } from 'crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { runChecked } from './exec';

/** A throw-away CA and a server certificate it signed, as files and PEM text. */
export interface TestPki {
  /** A directory holding only `ca.crt`: what skopeo's `--*-cert-dir` expects. */
  readonly caDir: string;
  readonly caCertPath: string;
  readonly caPem: string;
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
  /** SHA-256 fingerprint of the server certificate in Node's `AA:BB:...` notation. */
  readonly serverFingerprint256: string;
}

const OPENSSL_TIMEOUT_MS = 15_000;

/**
 * Creates a CA and a server certificate for `localhost` and `127.0.0.1` (extended key usage
 * serverAuth) with openssl, in `dir`. P-256 keys: generated in milliseconds, unlike RSA.
 */
export async function createTestPki(dir: string): Promise<TestPki> {
  const caDir = join(dir, 'ca');
  mkdirSync(caDir, { recursive: true });
  const caKey = join(dir, 'ca.key');
  const caCertPath = join(caDir, 'ca.crt');
  const serverKey = join(dir, 'server.key');
  const serverCsr = join(dir, 'server.csr');
  const serverCert = join(dir, 'server.crt');
  const extensions = join(dir, 'server.ext');
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const openssl = (args: string[]) => runChecked('openssl', args, { timeoutMs: OPENSSL_TIMEOUT_MS });

  await openssl(['req', '-x509', ...ecKey, '-keyout', caKey, '-out', caCertPath, '-days', '1',
    '-subj', '/CN=cdk8s-trusted-registry e2e CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await openssl(['req', '-new', ...ecKey, '-keyout', serverKey, '-out', serverCsr, '-subj', '/CN=localhost']);
  writeFileSync(extensions, [
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    'extendedKeyUsage=serverAuth',
    'keyUsage=critical,digitalSignature',
    'basicConstraints=critical,CA:FALSE',
  ].join('\n') + '\n');
  await openssl(['x509', '-req', '-in', serverCsr, '-CA', caCertPath, '-CAkey', caKey, '-set_serial', '2',
    '-days', '1', '-extfile', extensions, '-out', serverCert]);

  const serverCertPem = readFileSync(serverCert, 'utf-8');
  return {
    caDir,
    caCertPath,
    caPem: readFileSync(caCertPath, 'utf-8'),
    serverCertPem,
    serverKeyPem: readFileSync(serverKey, 'utf-8'),
    serverFingerprint256: new X509Certificate(serverCertPem).fingerprint256,
  };
}
