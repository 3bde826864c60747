import { createHash, createPublicKey, sign } from 'crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier, AttributeTypeAndValue, AttributeValue, BasicConstraints, Certificate, ExtendedKeyUsage, Extension,
  Extensions, GeneralName, id_ce_basicConstraints, id_ce_extKeyUsage, id_ce_keyUsage, id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier, id_kp_serverAuth, KeyUsage, KeyUsageFlags, Name, RelativeDistinguishedName,
  SubjectAlternativeName, SubjectKeyIdentifier, SubjectPublicKeyInfo, TBSCertificate, Validity, Version,
} from '@peculiar/asn1-x509';
import { Duration } from 'cdk8s';
import { deterministicRsaKey } from './deterministic-rsa-key';
import { invalid, isDnsSubdomain, validateUnique } from '../validation';

/** The subject and issuer of every self-signed certificate: says what it is to anyone who looks. */
export const SELF_SIGNED_SUBJECT_ORGANIZATION = 'cdk8s-trusted-registry proof of concept (self-signed)';

const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const ORGANIZATION_NAME = '2.5.4.10';
/** The DER encoding of ASN.1 NULL, the parameters RFC 4055 requires for sha256WithRSAEncryption. */
const DER_NULL = new Uint8Array([0x05, 0x00]).buffer;

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

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

function pem(label: string, der: ArrayBuffer | Buffer): string {
  const base64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${base64}-----END ${label}-----\n`;
}

/**
 * A self-signed TLS server certificate for `dnsNames`, built synchronously (constructs cannot
 * await): the typed ASN.1 structures of `@peculiar/asn1-x509` (the layer `@peculiar/x509` is
 * built on, whose generator is async) are signed with Node's synchronous `crypto.sign`. The key
 * comes from `deterministicRsaKey(seed)` and the serial number from a hash of the other inputs,
 * so the same inputs always give the same certificate. For proofs of concept only.
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

  const privateKey = deterministicRsaKey(options.seed);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const subjectPublicKeyInfo = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  // Positive (top bit clear) and of fixed length (no leading zero byte), as RFC 5280 asks.
  const serial = createHash('sha256').update(spki).update(JSON.stringify([dnsNames, notBefore, notAfter])).digest().subarray(0, 16);
  serial[0] = (serial[0] & 0x7f) | 0x40;
  const name = new Name([new RelativeDistinguishedName([
    new AttributeTypeAndValue({ type: ORGANIZATION_NAME, value: new AttributeValue({ utf8String: SELF_SIGNED_SUBJECT_ORGANIZATION }) }),
  ])]);
  const signatureAlgorithm = new AlgorithmIdentifier({ algorithm: SHA256_WITH_RSA, parameters: DER_NULL });

  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: signatureAlgorithm,
    issuer: name,
    validity: new Validity({ notBefore, notAfter }),
    subject: name,
    subjectPublicKeyInfo,
    extensions: new Extensions([
      // An end-entity certificate: clients trust it as its own anchor, it signs nothing else.
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment)),
      extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth])),
      extension(id_ce_subjectAltName, false, new SubjectAlternativeName(dnsNames.map((dNSName) => new GeneralName({ dNSName })))),
      extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(
        new Uint8Array(createHash('sha1').update(Buffer.from(subjectPublicKeyInfo.subjectPublicKey)).digest()).buffer,
      )),
    ]),
  });
  // RSA PKCS #1 v1.5 (Node's default padding for RSA keys) is deterministic, unlike ECDSA.
  const signature = sign('sha256', Buffer.from(AsnConvert.serialize(tbsCertificate)), privateKey);
  const certificate = new Certificate({ tbsCertificate, signatureAlgorithm, signatureValue: new Uint8Array(signature).buffer });

  return {
    certificatePem: pem('CERTIFICATE', AsnConvert.serialize(certificate)),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}
