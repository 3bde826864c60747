import { App, Chart } from 'cdk8s';
import { HtpasswdSource, PrivateRegistry } from 'cdk8s-trusted-registry';

const app = new App();
const chart = new Chart(app, 'registry', { namespace: 'registry' });
new PrivateRegistry(chart, 'Registry', {
  host: 'registry.mycorp.local',
  htpasswd: HtpasswdSource.generated({ generation: 1 }),
});
app.synth();
