import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { CertManagerIssuerKind, CertManagerIssuerRef } from './cert-manager-issuer';
import { certManagerImports } from './cert-manager-imports';
import { goDuration } from './go-duration';
import { makeClusterScoped } from '../cluster-scoped';
import { requireChartNamespace, validateObjectName } from '../validation';

/** Props of `CertManagerCaChain`. */
export interface CertManagerCaChainProps {
  /**
   * Base name of the chain's objects: the CA Certificate, its Secret and the CA Issuer are named
   * `<name>-ca`, the self-signed ClusterIssuer `<namespace>-<name>-selfsigned`.
   */
  readonly name: string;

  /**
   * Validity of the CA certificate. cert-manager renews it (with a new key) before it expires,
   * after which nodes must trust the new CA.
   * @default Duration.days(1825) - five years
   */
  readonly caDuration?: Duration;
}

/**
 * A private certificate authority run by cert-manager, for when no issuer exists yet: a
 * self-signed ClusterIssuer signs a CA Certificate, whose Secret backs a namespaced CA Issuer.
 * Certificates the CA Issuer signs carry the CA in their Secret's `ca.crt`, the file nodes and
 * clients must trust.
 */
export class CertManagerCaChain extends Construct {
  /** The CA Issuer that signs certificates in the chart's namespace. */
  public readonly issuerRef: CertManagerIssuerRef;
  /** Name of the Secret holding the CA certificate and key. */
  public readonly caSecretName: string;

  constructor(scope: Construct, id: string, props: CertManagerCaChainProps) {
    super(scope, id);
    const cm = certManagerImports();
    const namespace = requireChartNamespace(this, 'its CA Issuer is namespaced');
    const name = validateObjectName('name', props.name);
    this.caSecretName = `${name}-ca`;
    // Cluster-scoped: the namespace in the name keeps two registries' chains apart.
    const selfSignedName = validateObjectName('name', `${namespace}-${name}-selfsigned`);

    const selfSigned = new cm.ClusterIssuer(this, 'SelfSigned', {
      metadata: { name: selfSignedName },
      spec: { selfSigned: {} },
    });
    makeClusterScoped(selfSigned);
    new cm.Certificate(this, 'Ca', {
      metadata: { name: this.caSecretName },
      spec: {
        isCa: true,
        commonName: `${name}.${namespace} registry CA`,
        secretName: this.caSecretName,
        duration: goDuration('caDuration', props.caDuration ?? Duration.days(1825)),
        privateKey: {
          algorithm: cm.CertificateSpecPrivateKeyAlgorithm.ECDSA,
          size: 256,
          rotationPolicy: cm.CertificateSpecPrivateKeyRotationPolicy.ALWAYS,
        },
        issuerRef: { group: 'cert-manager.io', kind: CertManagerIssuerKind.CLUSTER_ISSUER, name: selfSignedName },
      },
    });
    new cm.Issuer(this, 'Resource', {
      metadata: { name: this.caSecretName },
      spec: { ca: { secretName: this.caSecretName } },
    });
    this.issuerRef = { name: this.caSecretName, kind: CertManagerIssuerKind.ISSUER };
  }
}
