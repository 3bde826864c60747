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
  exemptNamespaces: ['kube-system', 'monitoring'],
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
    htpasswd: HtpasswdSource.generated({ generation: 2 }),
    certificate: RegistryCertificate.fromCertManager({ duration: Duration.days(60), renewBefore: Duration.days(20) }),
    ingress: true,
    ingressClassName: 'nginx',
    config: { minimumTls: TlsVersion.TLS_1_3, authRealm: 'Example registry', logLevel: 'warn', deleteEnabled: false },
    resources: {
      cpu: { request: kplus.Cpu.millis(250), limit: kplus.Cpu.units(2) },
      memory: { request: Size.mebibytes(256), limit: Size.gibibytes(1) },
    },
  },
  nodeTrust: { caConfigMapName: 'registry-ca', mode: NodeTrustMode.CONTAINERD, interval: Duration.minutes(5) },
  networkPolicy: { nodeCidrs: ['10.0.0.0/16'], pushNamespaces: ['ci'] },
});
chart.grantPull('Monitoring', { namespaces: ['observability'], serviceAccounts: ['prometheus'] });
app.synth();
