import { App, Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import {
  HtpasswdSource, Images, NodeTrustMode, PolicyMode, RegistryCertificate, RegistryStorage, RegistryWorkloadKind,
  TlsVersion, TrustedRegistryChart,
} from 'cdk8s-trusted-registry';

// A platform team's chart with every option set; examples/python/platform_chart.py builds the
// same chart in Python and must synthesize the same bytes.
const app = new App();
const chart = new TrustedRegistryChart(app, 'platform', {
  host: 'registry.example.com',
  namespace: 'images',
  createNamespace: true,
  labels: { team: 'platform' },
  // The chart creates (and so owns) `monitoring`, so no tenant can claim the exempt name first;
  // cert-manager was installed by Helm and is declared as managed elsewhere.
  exemptNamespaces: ['kube-system', 'monitoring', 'cert-manager'],
  externallyManagedNamespaces: ['cert-manager'],
  certManagerNamespace: 'cert-manager',
  policyMode: PolicyMode.AUDIT,
  pullNamespaces: ['team-a', 'team-b'],
  registry: {
    name: 'registry',
    image: Images.REGISTRY,
    replicas: 2,
    // Several replicas sign upload state with one secret: a Secret with key `http-secret`.
    httpSecret: kplus.Secret.fromSecretName(app, 'RegistryHttpSecret', 'registry-http'),
    workloadKind: RegistryWorkloadKind.STATEFUL_SET,
    storage: RegistryStorage.newClaim({
      size: Size.gibibytes(200),
      storageClassName: 'shared-fs',
      accessMode: kplus.PersistentVolumeAccessMode.READ_WRITE_MANY,
    }),
    // Generated in the cluster: no password or salt seed in the chart; CI pushes as `ci`.
    htpasswd: HtpasswdSource.generated({ generation: 2, pushUsername: 'ci' }),
    certificate: RegistryCertificate.fromCertManager({ duration: Duration.days(60), renewBefore: Duration.days(20) }),
    ingress: true,
    ingressClassName: 'nginx',
    config: { minimumTls: TlsVersion.TLS_1_3, authRealm: 'Example registry', logLevel: 'warn', deleteEnabled: false },
    resources: {
      cpu: { request: kplus.Cpu.millis(250), limit: kplus.Cpu.units(2) },
      memory: { request: Size.mebibytes(256), limit: Size.gibibytes(1) },
    },
  },
  nodeTrust: {
    caConfigMapName: 'registry-ca',
    mode: NodeTrustMode.CONTAINERD,
    // The API server's --service-cluster-ip-range: nodes map the host only to a ClusterIP inside it.
    serviceCidrs: ['10.100.0.0/16'],
    interval: Duration.minutes(5),
    // The pinned defaults; name your mirrored copies here.
    image: Images.BUSYBOX,
    kubectlImage: Images.KUBECTL,
    shellImage: Images.SHELL,
  },
  networkPolicy: {
    nodeCidrs: ['10.0.0.0/16'],
    pushNamespaces: ['ci'],
    ingressControllerNamespaceLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' },
  },
});
chart.grantPull('Monitoring', { namespaces: ['observability'], serviceAccounts: ['prometheus'] });
app.synth();
