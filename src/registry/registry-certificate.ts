import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { CertManagerCertificate, CertManagerCertificateOptions } from '../tls/cert-manager-certificate';
import { CertificateAndKey, createSelfSignedCertificate, SelfSignedCertificateOptions } from '../tls/self-signed-certificate';
import { validateObjectName } from '../validation';

/** What the registry needs to know to serve TLS. */
export interface CertificateBindOptions {
  /** Name for a Secret the source creates. */
  readonly secretName: string;
  /** Every DNS name the certificate must cover: the Ingress host first, then the Service names. */
  readonly dnsNames: string[];
}

/**
 * The TLS certificate the registry serves (and the Ingress uses), as a `kubernetes.io/tls`
 * Secret with `tls.crt` and `tls.key`. The registry always serves TLS itself, so traffic is
 * encrypted behind the Ingress and between nodes too.
 */
export abstract class RegistryCertificate {
  /** A `kubernetes.io/tls` Secret that already exists in the registry's namespace. */
  public static fromSecretName(secretName: string): RegistryCertificate {
    validateObjectName('certificate secretName', secretName);
    return new ExistingSecretCertificate(secretName);
  }

  /**
   * A certificate cert-manager issues and renews into the Secret `<registry name>-tls`, covering
   * the Ingress host and the Service's in-cluster names. Needs cert-manager in the cluster.
   */
  public static fromCertManager(options: CertManagerCertificateOptions = {}): RegistryCertificate {
    return new CertManagerRegistryCertificate(options);
  }

  /**
   * PROOF OF CONCEPT ONLY: a self-signed certificate made at synth time, with its private key in
   * a Secret of the synthesized output (synth prints a warning). The key derives from `seed`, so
   * the output is the same on every synth, and anyone with the seed or the output has the key.
   * Nodes and clients trust the certificate itself (see `certificatePem` and `NodeTrust`).
   */
  public static selfSigned(options: SelfSignedCertificateOptions): SelfSignedRegistryCertificate {
    return new SelfSignedRegistryCertificate(options);
  }

  /** Creates or references the TLS Secret in `scope`. */
  public abstract bind(scope: Construct, options: CertificateBindOptions): kplus.ISecret;
}

class ExistingSecretCertificate extends RegistryCertificate {
  constructor(private readonly secretName: string) {
    super();
  }

  public bind(scope: Construct): kplus.ISecret {
    return kplus.Secret.fromSecretName(scope, 'TlsSecret', this.secretName);
  }
}

class CertManagerRegistryCertificate extends RegistryCertificate {
  constructor(private readonly options: CertManagerCertificateOptions) {
    super();
  }

  public bind(scope: Construct, options: CertificateBindOptions): kplus.ISecret {
    new CertManagerCertificate(scope, 'Certificate', { ...this.options, ...options });
    return kplus.Secret.fromSecretName(scope, 'TlsSecret', options.secretName);
  }
}

/** A self-signed certificate made at synth time; see `RegistryCertificate.selfSigned()`. */
export class SelfSignedRegistryCertificate extends RegistryCertificate {
  private made?: CertificateAndKey;

  constructor(private readonly options: SelfSignedCertificateOptions) {
    super();
  }

  /** The certificate (PEM), which is also the CA to trust. Available once a registry uses it. */
  public get certificatePem(): string {
    if (!this.made) {
      throw new Error('the self-signed certificate is made when a PrivateRegistry uses it: read certificatePem after creating the registry');
    }
    return this.made.certificatePem;
  }

  public bind(scope: Construct, options: CertificateBindOptions): kplus.ISecret {
    if (this.made) {
      throw new Error('a RegistryCertificate.selfSigned() certificate can serve only one registry: call selfSigned() once per registry');
    }
    this.made = createSelfSignedCertificate(options.dnsNames, this.options);
    console.warn(`WARNING: ${scope.node.path}: the Secret "${options.secretName}" in the synthesized output holds the private key of a `
      + 'self-signed proof-of-concept certificate; do not use RegistryCertificate.selfSigned() beyond a proof of concept.');
    return new kplus.Secret(scope, 'TlsSecret', {
      metadata: { name: options.secretName },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': this.made.certificatePem, 'tls.key': this.made.privateKeyPem, 'ca.crt': this.made.certificatePem },
    });
  }
}
