import { App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { TrustedRegistryChart } from 'cdk8s-trusted-registry';

// What the README says does not work: a cdk8s-plus-27 object (the registry's Service) passed to a
// cdk8s-plus-33 API.
const app = new App();
const platform = new TrustedRegistryChart(app, 'platform');
const chart = new Chart(app, 'ingress', { namespace: 'registry' });
new kplus.Ingress(chart, 'Ingress', { defaultBackend: kplus.IngressBackend.fromService(platform.registry.service) });
