import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { CertManagerCertificate, CertManagerCertificateOptions } from '../tls/cert-manager-certificate';
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
