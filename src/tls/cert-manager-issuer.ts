import { invalid, validateObjectName } from '../validation';

/** The kinds of cert-manager issuer a Certificate can reference. */
export enum CertManagerIssuerKind {
  /** A namespaced `Issuer`, in the registry's namespace. */
  ISSUER = 'Issuer',
  /** A cluster-scoped `ClusterIssuer`. */
  CLUSTER_ISSUER = 'ClusterIssuer',
}

/** A cert-manager issuer that already exists (or that a construct creates). */
export interface CertManagerIssuerRef {
  /** Name of the Issuer or ClusterIssuer. */
  readonly name: string;
  /**
   * Whether it is a namespaced Issuer or a ClusterIssuer.
   * @default CertManagerIssuerKind.ISSUER
   */
  readonly kind?: CertManagerIssuerKind;
}

/** Checks an issuer reference and fills in its default kind. */
export function validateIssuerRef(prop: string, ref: CertManagerIssuerRef): Required<CertManagerIssuerRef> {
  validateObjectName(`${prop}.name`, ref.name);
  const kind = ref.kind ?? CertManagerIssuerKind.ISSUER;
  if (!Object.values(CertManagerIssuerKind).includes(kind)) {
    invalid(`${prop}.kind`, `must be one of ${Object.values(CertManagerIssuerKind).map((k) => `"${k}"`).join(', ')}`, kind);
  }
  return { name: ref.name, kind };
}
