import { App } from 'cdk8s';
import { TrustedRegistryChart } from 'cdk8s-trusted-registry';

// The whole product with its defaults: registry.mycorp.local in namespace `registry`, the
// htpasswd and TLS Secrets created beforehand, and a policy that enforces.
const app = new App();
new TrustedRegistryChart(app, 'trusted-registry');
app.synth();
