// The package's public API: constructs, their props, enums and the helpers consumers call. Every
// name here is jsii-compatible and so also exists in Python, Java, Go and .NET. Internals
// (validation, script text, hashing, the default app's environment parsing) stay importable by
// tests through their module paths and are not part of the package.
export { Images } from './images';
export { RegistryUser, HtpasswdOptions } from './access/htpasswd';
export { HtpasswdKeys, HtpasswdSecret, HtpasswdSecretProps } from './access/htpasswd-secret';
export { GrantPullOptions, ImagePullSecret, PullAccess, PullAccessOptions, PullAccessProps } from './access/pull-access';
export { IPullCredentials, PullCredentials } from './access/pull-credentials';
export {
  RegistryCredentialsGenerator, RegistryCredentialsGeneratorOptions, RegistryCredentialsGeneratorProps,
} from './access/registry-credentials-generator';
export { ImagePullSecretGrant, SecretWritePolicy, SecretWritePolicyProps, WritableSecret } from './access/secret-write-policy';
export { MirrorLock } from './mirror/mirror-lock';
export { RegistryNetworkPolicy, RegistryNetworkPolicyOptions, RegistryNetworkPolicyProps } from './network/registry-network-policy';
export { AdmissionPolicyApiVersion, PolicyMode, TrustedImagePolicy, TrustedImagePolicyProps } from './policy/trusted-image-policy';
export {
  BoundHtpasswd, ExistingHtpasswdOptions, HtpasswdBindOptions, HtpasswdFile, HtpasswdSource, HtpasswdUsersOptions,
} from './registry/htpasswd-source';
export { PrivateRegistry, PrivateRegistryOptions, PrivateRegistryProps, RegistryContainerNames, RegistryWorkloadKind } from './registry/private-registry';
export { CertificateBindOptions, RegistryCertificate, SelfSignedRegistryCertificate } from './registry/registry-certificate';
export { RegistryConfigOptions, TlsVersion } from './registry/registry-config';
export { BoundRegistryStorage, ExistingClaimOptions, NewClaimOptions, RegistryStorage } from './registry/registry-storage';
export { CertManagerCaChain, CertManagerCaChainProps } from './tls/cert-manager-ca-chain';
export { CertManagerCertificate, CertManagerCertificateOptions, CertManagerCertificateProps } from './tls/cert-manager-certificate';
export { CertManagerIssuerKind, CertManagerIssuerRef } from './tls/cert-manager-issuer';
export { NodeTrust, NodeTrustOptions, NodeTrustProps } from './tls/node-trust';
export { NodeTrustMode } from './tls/node-trust-script';
export { SelfSignedCertificateOptions } from './tls/self-signed-certificate';
export { TrustedRegistryChart, TrustedRegistryChartProps } from './trusted-registry-chart';
export { UniqueObjectsCheck } from './unique-objects';
