import { App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { HtpasswdSource, TrustedRegistryChart } from 'cdk8s-trusted-registry';

// A `cdk8s init typescript-app` app (cdk8s-plus-33) that adds the registry and runs a team's
// workload from it, by digest, with the pull Secret the registry's grant copies in.
const app = new App();
const platform = new TrustedRegistryChart(app, 'platform', {
  host: 'registry.example.com',
  registry: { htpasswd: HtpasswdSource.generated() },
});
const access = platform.grantPull('TeamA', { namespaces: ['team-a'] });

const team = new Chart(app, 'team-a', { namespace: 'team-a' });
new kplus.Deployment(team, 'Api', {
  dockerRegistryAuth: kplus.Secret.fromSecretName(team, 'RegistryPull', access.secretName),
  containers: [{
    image: platform.registry.imageReference('team-a/api', 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'),
    securityContext: { user: 10001, group: 10001 },
  }],
});
// cdk8s-plus-33 APIs take the registry's objects by name, not as cdk8s-plus-27 objects:
new kplus.NetworkPolicy(team, 'ToRegistry', {
  selector: kplus.Pods.all(team, 'AllPods'),
  egress: {
    rules: [{
      peer: kplus.Pods.select(team, 'RegistryPods', {
        labels: platform.registry.workload.matchLabels,
        namespaces: kplus.Namespaces.select(team, 'RegistryNamespace', { names: [platform.registry.namespace] }),
      }),
    }],
  },
});
app.synth();
