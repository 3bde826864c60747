import { App, Chart } from 'cdk8s';
import { PrivateRegistry, PullAccess, PullCredentials } from 'cdk8s-trusted-registry';

const app = new App();
const chart = new Chart(app, 'registry', { namespace: 'registry' });
const registry = new PrivateRegistry(chart, 'Registry', { host: 'registry.mycorp.local' });

// The Secret `registry-pull` you created in the registry's namespace:
registry.grantPull('Apps', { namespaces: ['team-a'], credentials: PullCredentials.fromSecretName('registry-pull') });

// Or without a PrivateRegistry in the same chart (the chart's namespace must be the registry's):
const other = new Chart(app, 'pull-access', { namespace: 'registry' });
new PullAccess(other, 'Apps', { credentials: PullCredentials.fromSecretName('registry-pull'), namespaces: ['team-b'] });
app.synth();
