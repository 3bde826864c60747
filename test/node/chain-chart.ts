import { Duration, Testing } from 'cdk8s';
import { HtpasswdSource, NodeTrustMode, PolicyMode, RegistryCertificate, TrustedRegistryChart } from '../../src';
import { REGISTRY_USER_ID } from '../../src/registry/private-registry';
import { Manifest } from '../util/manifests';
import { NodeImages } from './node-images';
import { SERVICE_CIDR } from '../kube/control-plane';

/** The consumer namespace the chain grants pull access to. */
export const TEAM_NAMESPACE = 'team';

/** What `synthesizeChain()` needs. */
export interface ChainChartOptions {
  readonly images: NodeImages;
  /** The credentials' generation (raise it to rotate). */
  readonly generation: number;
  /** The self-signed certificate's seed: the same seed gives the same certificate on every synth. */
  readonly certificateSeed: string;
  readonly notBefore: Date;
}

/**
 * The chart of the chain, as a platform engineer would write it: credentials generated in the
 * cluster, pull access for the team namespace, NodeTrust in containerd mode, a self-signed
 * certificate and the policy enforcing; every image one of the locally built ones.
 */
export function synthesizeChain(options: ChainChartOptions): { manifests: Manifest[]; chart: TrustedRegistryChart; certificatePem: string } {
  const { images } = options;
  const certificate = RegistryCertificate.selfSigned({ seed: options.certificateSeed, notBefore: options.notBefore });
  const chart = new TrustedRegistryChart(Testing.app(), 'trusted-registry', {
    registry: {
      image: images.registry.reference,
      htpasswd: HtpasswdSource.generated({
        generation: options.generation,
        htpasswdImage: images.htpasswd.reference,
        kubectlImage: images.kubectl.reference,
        shellImage: images.shell.reference,
      }),
      certificate,
    },
    // Every 5 s instead of every minute, so the test waits seconds for a change to reach the node.
    nodeTrust: { mode: NodeTrustMode.CONTAINERD, serviceCidrs: [SERVICE_CIDR], image: images.shell.reference, kubectlImage: images.kubectl.reference, shellImage: images.shell.reference, interval: Duration.seconds(5) },
    policyMode: PolicyMode.ENFORCE,
  });
  chart.grantPull('PullAccess', { namespaces: [TEAM_NAMESPACE], serviceAccounts: ['default'], kubectlImage: images.kubectl.reference, shellImage: images.shell.reference });
  return { manifests: Testing.synth(chart) as Manifest[], chart, certificatePem: certificate.certificatePem };
}

/**
 * A PersistentVolume bound in advance to the registry's claim: a directory of the node (the
 * cluster has no storage provisioner), owned by the registry's user.
 */
export function registryVolume(manifests: readonly Manifest[], path: string): Manifest {
  const claim = manifests.find((m) => m.kind === 'PersistentVolumeClaim');
  if (!claim) throw new Error('the chain chart has no PersistentVolumeClaim');
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: 'trusted-registry-data' },
    spec: {
      capacity: { storage: claim.spec.resources.requests.storage },
      accessModes: claim.spec.accessModes,
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: claim.spec.storageClassName ?? '',
      claimRef: { namespace: claim.metadata.namespace, name: claim.metadata.name },
      hostPath: { path, type: 'Directory' },
    },
  } as Manifest;
}

/** The uid the registry runs as, which must own its volume's directory. */
export const REGISTRY_UID = REGISTRY_USER_ID;
