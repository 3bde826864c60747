import { App, Chart, Size } from 'cdk8s';
import { PolicyMode, PrivateRegistry, RegistryStorage, TrustedImagePolicy } from 'cdk8s-trusted-registry';

const app = new App();
const chart = new Chart(app, 'platform', { namespace: 'images' });

const registry = new PrivateRegistry(chart, 'Registry', {
  host: 'registry.example.com',
  storage: RegistryStorage.newClaim({ size: Size.gibibytes(200), storageClassName: 'fast' }),
});

new TrustedImagePolicy(chart, 'Policy', {
  trustedSources: [registry.host],
  exemptNamespaces: ['kube-system', registry.namespace],
  mode: PolicyMode.AUDIT, // start with audit, then switch to ENFORCE
});

// Reference images by digest, e.g. the one `skopeo copy` or `docker push` printed:
const image = registry.imageReference('team-a/api', 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
console.log(image); // registry.example.com/team-a/api@sha256:9f86…
app.synth();
