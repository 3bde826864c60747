import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
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
