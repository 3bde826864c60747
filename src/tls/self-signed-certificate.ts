import { createHash, createHmac, hkdfSync } from 'crypto';
import { Duration } from 'cdk8s';
import type * as Forge from 'node-forge';
import { invalid, isDnsSubdomain, validateUnique } from '../validation';

/** The subject and issuer of every self-signed certificate: says what it is to anyone who looks. */
export const SELF_SIGNED_SUBJECT_ORGANIZATION = 'cdk8s-trusted-registry proof of concept (self-signed)';

/** Inputs of a self-signed certificate that fix it completely, so every synth writes the same bytes. */
export interface SelfSignedCertificateOptions {
  /**
   * Secret text the RSA-2048 private key is derived from, at least 32 characters (e.g. from
   * `openssl rand -base64 32`, kept out of source control). Anyone who knows it can recreate
   * the key.
   */
  readonly seed: string;

  /** Start of validity. A fixed date, because a date taken from the clock would change every synth. */
  readonly notBefore: Date;

  /**
   * How long the certificate is valid from `notBefore`.
   * @default Duration.days(365)
   */
  readonly validity?: Duration;
}

/** A PEM certificate and its PEM (PKCS #8) private key. */
export interface CertificateAndKey {
  /** The certificate, PEM. */
  readonly certificatePem: string;
  /** The unencrypted private key, PEM (PKCS #8). */
  readonly privateKeyPem: string;
}

/**
 * A node-forge PRNG whose "entropy" is a byte stream derived from `seed` alone (HMAC-SHA256 in
 * counter mode under an HKDF-SHA256 key), so every key generated with it from the same seed is the
 * same, in every process. forge's Fortuna generator draws all its seed material through
 * `seedFileSync`, in an order fixed by the requests made of it.
 */
function seededPrng(forge: typeof Forge, seed: string): Forge.random.Random {
  const key = Buffer.from(hkdfSync('sha256', seed, 'cdk8s-trusted-registry', 'self-signed certificate rsa key prng', 32));
  let counter = 0;
  let buffered = Buffer.alloc(0);
  const prng = forge.random.createInstance();
  prng.seedFileSync = (needed: number): string => {
    while (buffered.length < needed) {
      const index = Buffer.alloc(4);
      index.writeUInt32BE(counter++);
      const block = createHmac('sha256', key).update(index).digest();
      buffered = Buffer.concat([buffered, block]);
    }
    const bytes = buffered.subarray(0, needed);
    buffered = buffered.subarray(needed);
    return bytes.toString('binary');
  };
  prng.seedFile = (needed, callback) => callback(null, prng.seedFileSync(needed));
  return prng;
}

/** forge writes PEM with CRLF line ends; the Secret's YAML reads better (and as before) with LF. */
function lf(pem: string): string {
  return pem.replace(/\r\n/g, '\n');
}

/**
 * A self-signed TLS server certificate for `dnsNames`, made with node-forge, synchronously
 * (constructs cannot await, and `@peculiar/x509`'s generator is async). forge generates the
 * RSA-2048 key in pure JavaScript from a PRNG seeded from `seed` alone, builds the certificate and
 * signs it with RSA PKCS #1 v1.5 over SHA-256 (deterministic, unlike ECDSA); the serial number is
 * a hash of the other inputs. So the same inputs always give the same certificate and key. Pure
 * JavaScript key generation takes about 1 to 8 seconds per call, depending on the seed. For
 * proofs of concept only.
 */
export function createSelfSignedCertificate(dnsNames: string[], options: SelfSignedCertificateOptions): CertificateAndKey {
  if (options.seed.length < 32) {
    invalid('seed', 'must be at least 32 characters (e.g. from `openssl rand -base64 32`)', `${options.seed.length} characters`);
  }
  if (dnsNames.length === 0) {
    invalid('dnsNames', 'must list at least one name', dnsNames);
  }
  for (const name of dnsNames) {
    if (!isDnsSubdomain(name)) {
      invalid('dnsNames', 'must be lowercase DNS names', name);
    }
  }
  validateUnique('dnsNames', dnsNames);
  const notBefore = options.notBefore;
  if (!(notBefore instanceof Date) || isNaN(notBefore.getTime()) || notBefore.getUTCMilliseconds() !== 0) {
    invalid('notBefore', 'must be a valid Date with whole seconds (e.g. new Date("2025-01-01T00:00:00Z"))', String(notBefore));
  }
  const validity = options.validity ?? Duration.days(365);
  if (validity.toSeconds() < 3600) {
    invalid('validity', 'must be at least one hour', validity.toHumanString());
  }
  const notAfter = new Date(notBefore.getTime() + validity.toMilliseconds());

  // Loaded here, not at the top: node-forge adds ~50 ms to every synth and few charts use it.
  const { forge } = require('../bundled/node-forge') as { forge: typeof Forge };
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001, prng: seededPrng(forge, options.seed), algorithm: 'PRIMEINC' });
  const spki = Buffer.from(forge.asn1.toDer(forge.pki.publicKeyToAsn1(keys.publicKey)).getBytes(), 'binary');
  // Positive (top bit clear) and of fixed length (no leading zero byte), as RFC 5280 asks.
  const serial = createHash('sha256').update(spki).update(JSON.stringify([dnsNames, notBefore, notAfter])).digest().subarray(0, 16);
  serial[0] = (serial[0] & 0x7f) | 0x40;
  const name: Forge.pki.CertificateField[] = [{
    name: 'organizationName',
    value: SELF_SIGNED_SUBJECT_ORGANIZATION,
    // UTF8String, as RFC 5280 asks. @types/node-forge types valueTagClass as asn1.Class; forge reads an asn1.Type.
    valueTagClass: forge.asn1.Type.UTF8 as unknown as Forge.asn1.Class,
  }];

  const certificate = forge.pki.createCertificate();
  certificate.publicKey = keys.publicKey;
  certificate.serialNumber = serial.toString('hex');
  certificate.validity.notBefore = notBefore;
  certificate.validity.notAfter = notAfter;
  certificate.setSubject(name);
  certificate.setIssuer(name);
  certificate.setExtensions([
    // An end-entity certificate: clients trust it as its own anchor, it signs nothing else.
    { name: 'basicConstraints', critical: true, cA: false },
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: dnsNames.map((value) => ({ type: 2 /* dNSName */, value })) },
    // SHA-1 of the public key bits (RFC 5280 method 1), computed by forge from certificate.publicKey.
    { name: 'subjectKeyIdentifier' },
  ]);
  certificate.sign(keys.privateKey, forge.md.sha256.create());

  return {
    certificatePem: lf(forge.pki.certificateToPem(certificate)),
    // What forge.pki.privateKeyInfoToPem does, without loading forge's PKCS #12 and password-based encryption modules.
    privateKeyPem: lf(forge.pem.encode({ type: 'PRIVATE KEY', body: forge.asn1.toDer(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(keys.privateKey))).getBytes() })),
  };
}
