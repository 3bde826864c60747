import { execFileSync, spawnSync } from 'child_process';
import { createPrivateKey, X509Certificate } from 'crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Chart, Duration, Testing } from 'cdk8s';
import { PrivateRegistry, RegistryCertificate } from '../../src';
import { createSelfSignedCertificate, SELF_SIGNED_SUBJECT_ORGANIZATION } from '../../src/tls/self-signed-certificate';
import { findOne, Manifest, synth, validateAgainstKubernetesSchemas } from '../util/manifests';

const seed = 'proof-of-concept-seed-0123456789abcdef';
const notBefore = new Date('2025-01-01T00:00:00Z');
const DNS_NAMES = ['registry.example.com', 'registry.registry.svc', 'registry.registry.svc.cluster.local'];
/** A moment inside the validity window, so the checks do not depend on today's date. */
const ONE_DAY_IN = String(notBefore.getTime() / 1000 + 86_400);

function registryChart(certificate: RegistryCertificate): Manifest[] {
  const chart = new Chart(Testing.app(), 'x', { namespace: 'registry' });
  new PrivateRegistry(chart, 'Registry', { host: 'registry.example.com', certificate });
  return synth(chart);
}

describe('RegistryCertificate.selfSigned', () => {
  let dir: string;
  let warn: jest.SpyInstance;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'self-signed-'));
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    warn.mockRestore();
  });

  /** Writes the Secret's files to `dir` for openssl. */
  function tlsFiles(manifests: Manifest[]): { crt: string; key: string; ca: string } {
    const secret = findOne(manifests, 'Secret', 'registry-tls');
    const files = { crt: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), ca: join(dir, 'ca.crt') };
    writeFileSync(files.crt, secret.stringData['tls.crt']);
    writeFileSync(files.key, secret.stringData['tls.key']);
    writeFileSync(files.ca, secret.stringData['ca.crt']);
    return files;
  }

  function openssl(...args: string[]): { status: number | null; output: string } {
    const result = spawnSync('openssl', args, { encoding: 'utf-8' });
    return { status: result.status, output: result.stdout + result.stderr };
  }

  test('puts a TLS server certificate for every registry name, and its key, in a kubernetes.io/tls Secret', () => {
    // WHEN
    const manifests = registryChart(RegistryCertificate.selfSigned({ seed, notBefore }));

    // THEN
    validateAgainstKubernetesSchemas(manifests);
    const secret = findOne(manifests, 'Secret', 'registry-tls');
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret.stringData).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    const { crt } = tlsFiles(manifests);
    const text = openssl('x509', '-in', crt, '-text', '-noout').output;
    expect(text).toContain('Public-Key: (2048 bit)');
    expect(text).toContain('Signature Algorithm: sha256WithRSAEncryption');
    expect(text).toMatch(/X509v3 Subject Alternative Name: *\n *DNS:registry\.example\.com, DNS:registry\.registry\.svc, DNS:registry\.registry\.svc\.cluster\.local, DNS:registry-push\.registry\.svc, DNS:registry-push\.registry\.svc\.cluster\.local\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage: *\n *TLS Web Server Authentication\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n *CA:FALSE\n/);
    expect(text).toMatch(/X509v3 Key Usage: critical\n *Digital Signature, Key Encipherment\n/);
    expect(text).toContain('Not Before: Jan  1 00:00:00 2025 GMT');
    expect(text).toContain('Not After : Jan  1 00:00:00 2026 GMT');
    expect(text).toContain(`Subject: O = ${SELF_SIGNED_SUBJECT_ORGANIZATION}`);
  });

  test.each(DNS_NAMES)('verifies as a TLS server certificate for %s when trusted through ca.crt', (hostname) => {
    const { crt, ca } = tlsFiles(registryChart(RegistryCertificate.selfSigned({ seed, notBefore })));
    const result = openssl('verify', '-CAfile', ca, '-purpose', 'sslserver', '-verify_hostname', hostname, '-attime', ONE_DAY_IN, crt);
    expect(result).toEqual({ status: 0, output: `${crt}: OK\n` });
  });

  test('does not verify for another host name, nor after it expires', () => {
    const { crt, ca } = tlsFiles(registryChart(RegistryCertificate.selfSigned({ seed, notBefore, validity: Duration.days(30) })));
    const otherHost = openssl('verify', '-CAfile', ca, '-verify_hostname', 'registry.other.com', '-attime', ONE_DAY_IN, crt);
    expect(otherHost.status).not.toBe(0);
    expect(otherHost.output).toContain('hostname mismatch');
    const expired = openssl('verify', '-CAfile', ca, '-attime', String(notBefore.getTime() / 1000 + 31 * 86_400), crt);
    expect(expired.status).not.toBe(0);
    expect(expired.output).toContain('certificate has expired');
  });

  test('holds the private key of the certificate, which signed it', () => {
    const manifests = registryChart(RegistryCertificate.selfSigned({ seed, notBefore }));
    const { crt, key } = tlsFiles(manifests);
    const certPublicKey = execFileSync('openssl', ['x509', '-in', crt, '-noout', '-pubkey'], { encoding: 'utf-8' });
    expect(execFileSync('openssl', ['pkey', '-in', key, '-pubout'], { encoding: 'utf-8' })).toBe(certPublicKey);
    const certificate = new X509Certificate(findOne(manifests, 'Secret').stringData['tls.crt']);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(certificate.issuer).toBe(certificate.subject);
  });

  test('is identical on every synth with the same inputs, and differs with another seed', () => {
    const tls = (s: string) => findOne(registryChart(RegistryCertificate.selfSigned({ seed: s, notBefore })), 'Secret').stringData;
    expect(tls(seed)).toEqual(tls(seed));
    const other = tls(`${seed}-other`);
    expect(other['tls.key']).not.toBe(tls(seed)['tls.key']);
    expect(other['tls.crt']).not.toBe(tls(seed)['tls.crt']);
  });

  test('warns that the output holds a private key', () => {
    registryChart(RegistryCertificate.selfSigned({ seed, notBefore }));
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(/^WARNING: x\/Registry: the Secret "registry-tls" in the synthesized output holds the private key of a self-signed proof-of-concept certificate/);
  });

  test('exposes the certificate to trust once a registry uses it', () => {
    const certificate = RegistryCertificate.selfSigned({ seed, notBefore });
    expect(() => certificate.certificatePem).toThrow('the self-signed certificate is made when a PrivateRegistry uses it: read certificatePem after creating the registry');
    const manifests = registryChart(certificate);
    expect(certificate.certificatePem).toBe(findOne(manifests, 'Secret').stringData['tls.crt']);
  });

  test('fails if one certificate is used for two registries', () => {
    const certificate = RegistryCertificate.selfSigned({ seed, notBefore });
    registryChart(certificate);
    expect(() => registryChart(certificate)).toThrow('a RegistryCertificate.selfSigned() certificate can serve only one registry: call selfSigned() once per registry');
  });

  test('fails if the seed is shorter than 32 characters', () => {
    expect(() => registryChart(RegistryCertificate.selfSigned({ seed: 'too-short', notBefore })))
      .toThrow(`'seed' must be at least 32 characters (e.g. from \`openssl rand -base64 32\`), got "9 characters"`);
  });

  test('fails if notBefore is not a valid date', () => {
    expect(() => registryChart(RegistryCertificate.selfSigned({ seed, notBefore: new Date('not a date') })))
      .toThrow(`'notBefore' must be a valid Date with whole seconds (e.g. new Date("2025-01-01T00:00:00Z")), got "Invalid Date"`);
  });

  test('fails if the validity is shorter than an hour', () => {
    expect(() => registryChart(RegistryCertificate.selfSigned({ seed, notBefore, validity: Duration.minutes(59) })))
      .toThrow(`'validity' must be at least one hour, got "59 minutes"`);
  });
});

describe('createSelfSignedCertificate', () => {
  const options = { seed, notBefore };

  test('derives a valid 2048-bit RSA key (PKCS #8) from the seed, another from another seed', () => {
    const { privateKeyPem } = createSelfSignedCertificate(DNS_NAMES, options);
    expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n(.{64}\n)+.{1,64}\n-----END PRIVATE KEY-----\n$/);
    const key = createPrivateKey(privateKeyPem);
    expect(key.asymmetricKeyDetails).toEqual({ modulusLength: 2048, publicExponent: 65537n });
    const check = spawnSync('openssl', ['rsa', '-check', '-noout'], { input: privateKeyPem, encoding: 'utf-8' });
    expect(check.stdout + check.stderr).toBe('RSA key ok\n');
    expect(createSelfSignedCertificate(DNS_NAMES, { ...options, seed: `${seed}x` }).privateKeyPem).not.toBe(privateKeyPem);
  });

  test('gives the same certificate and key in separate node processes', () => {
    // Nothing from this process (module state, a warmed-up PRNG) can make the results agree.
    const script = `process.stdout.write(JSON.stringify(require(${JSON.stringify(require.resolve('../../src/tls/self-signed-certificate'))})`
      + `.createSelfSignedCertificate(${JSON.stringify(DNS_NAMES)}, { seed: ${JSON.stringify(seed)}, notBefore: new Date(${notBefore.getTime()}) })))`;
    const inProcess = createSelfSignedCertificate(DNS_NAMES, options);
    const run = () => JSON.parse(execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], { encoding: 'utf-8' }));
    expect(run()).toEqual(inProcess);
    expect(run()).toEqual(inProcess);
  });
});
