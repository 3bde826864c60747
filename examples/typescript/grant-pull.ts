import { App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { HtpasswdSource, PrivateRegistry } from 'cdk8s-trusted-registry';

const app = new App();
const chart = new Chart(app, 'registry', { namespace: 'registry' });
const registry = new PrivateRegistry(chart, 'Registry', {
  host: 'registry.mycorp.local',
  htpasswd: HtpasswdSource.generated(),
});

const apps = registry.grantPull('Apps', {
  namespaces: ['team-a', 'team-b', 'team-c'],
  // Pods that name no ServiceAccount run as `default`; list others too if your pods use them.
  serviceAccounts: ['default'],
  // Namespaces the admission policy exempts: granting pull access to them is refused at synth.
  exemptNamespaces: ['kube-system'],
});

// A pod whose ServiceAccount does not list the Secret names it itself:
const teamChart = new Chart(app, 'team-a', { namespace: 'team-a' });
new kplus.Deployment(teamChart, 'App', {
  dockerRegistryAuth: kplus.Secret.fromSecretName(teamChart, 'RegistryPull', apps.secretName),
  containers: [{
    image: registry.imageReference('team/app', 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'),
    securityContext: { user: 10001, group: 10001 },
  }],
});
app.synth();
