import { App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { HtpasswdSource, TrustedRegistryChart } from 'cdk8s-trusted-registry';

// A team's chart next to the platform's: its workload runs an image from the registry, pinned by
// the digest CI printed when it pushed, and pulls with the Secret the platform copied in.
const app = new App();
const platform = new TrustedRegistryChart(app, 'platform', {
  host: 'registry.example.com',
  registry: { htpasswd: HtpasswdSource.generated(), ingress: false },
});
const access = platform.grantPull('TeamA', { namespaces: ['team-a'] });

const team = new Chart(app, 'team-a', { namespace: 'team-a' });
new kplus.Deployment(team, 'Api', {
  dockerRegistryAuth: kplus.Secret.fromSecretName(team, 'RegistryPull', access.secretName),
  containers: [{
    image: platform.registry.imageReference('team-a/api', 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'),
    portNumber: 8080,
    securityContext: { user: 10001, group: 10001 },
  }],
});
app.synth();
