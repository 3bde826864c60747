import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { CertManagerCaChain } from './cert-manager-ca-chain';
import { CertManagerIssuerRef, validateIssuerRef } from './cert-manager-issuer';
import { certManagerImports } from './cert-manager-imports';
import { goDuration } from './go-duration';
import { invalid, validateObjectName, validateUnique } from '../validation';

/** Settings of a certificate cert-manager issues for the registry. */
export interface CertManagerCertificateOptions {
  /**
   * The issuer that signs the certificate.
   * @default - a self-contained chain (`CertManagerCaChain`) created next to the certificate
   */
  readonly issuer?: CertManagerIssuerRef;

  /**
   * Validity of the certificate.
   * @default Duration.days(90)
   */
  readonly duration?: Duration;

  /**
   * How long before expiry cert-manager renews the certificate.
   * @default Duration.days(30)
   */
  readonly renewBefore?: Duration;
}

/** Props of `CertManagerCertificate`. */
export interface CertManagerCertificateProps extends CertManagerCertificateOptions {
  /** Name of the Certificate and of the `kubernetes.io/tls` Secret cert-manager writes. */
  readonly secretName: string;

  /** The DNS names the certificate covers (subject alternative names). */
  readonly dnsNames: string[];
}

/**
 * A cert-manager `Certificate` for a TLS server: the DNS names as subject alternative names, the
 * serverAuth extended key usage, and a fresh ECDSA P-256 key on every renewal.
 */
export class CertManagerCertificate extends Construct {
  /** The issuer that signs the certificate. */
  public readonly issuerRef: CertManagerIssuerRef;
  /** The self-contained chain, when no issuer was given. */
  public readonly caChain?: CertManagerCaChain;

  constructor(scope: Construct, id: string, props: CertManagerCertificateProps) {
    super(scope, id);
    const cm = certManagerImports();
    const secretName = validateObjectName('secretName', props.secretName);
    if (props.dnsNames.length === 0) {
      invalid('dnsNames', 'must list at least one name', props.dnsNames);
    }
    validateUnique('dnsNames', props.dnsNames);
    const duration = props.duration ?? Duration.days(90);
    const renewBefore = props.renewBefore ?? Duration.days(30);
    const durationHours = goDuration('duration', duration);
    const renewBeforeHours = goDuration('renewBefore', renewBefore);
    if (renewBefore.toMinutes() >= duration.toMinutes()) {
      invalid('renewBefore', `must be shorter than 'duration' (${duration.toHumanString()})`, renewBefore.toHumanString());
    }

    if (props.issuer) {
      this.issuerRef = validateIssuerRef('issuer', props.issuer);
    } else {
      this.caChain = new CertManagerCaChain(this, 'CaChain', { name: secretName });
      this.issuerRef = this.caChain.issuerRef;
    }

    new cm.Certificate(this, 'Resource', {
      metadata: { name: secretName },
      spec: {
        secretName,
        dnsNames: [...props.dnsNames],
        duration: durationHours,
        renewBefore: renewBeforeHours,
        usages: [cm.CertificateSpecUsages.SERVER_AUTH, cm.CertificateSpecUsages.DIGITAL_SIGNATURE],
        privateKey: {
          algorithm: cm.CertificateSpecPrivateKeyAlgorithm.ECDSA,
          size: 256,
          rotationPolicy: cm.CertificateSpecPrivateKeyRotationPolicy.ALWAYS,
        },
        issuerRef: { group: 'cert-manager.io', kind: this.issuerRef.kind, name: this.issuerRef.name },
      },
    });
  }
}
