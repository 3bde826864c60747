import { App, Chart } from 'cdk8s';
import { NodeTrust, NodeTrustMode, PrivateRegistry, RegistryCertificate } from 'cdk8s-trusted-registry';

const app = new App();
const chart = new Chart(app, 'registry', { namespace: 'registry' });
const registry = new PrivateRegistry(chart, 'Registry', {
  host: 'registry.mycorp.local',
  certificate: RegistryCertificate.fromCertManager(),
});
new NodeTrust(chart, 'NodeTrust', {
  registry,
  // A ConfigMap with key ca.crt in kube-system, e.g.:
  //   kubectl -n kube-system create configmap registry-ca --from-file=ca.crt=ca.crt
  caConfigMapName: 'registry-ca',
  // Or the PEM itself: caCertificate: readFileSync('ca.crt', 'utf-8'),
  mode: NodeTrustMode.CONTAINERD, // or NodeTrustMode.K3S
  serviceCidrs: ['10.96.0.0/12'], // your API server's --service-cluster-ip-range
});
app.synth();
