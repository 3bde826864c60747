import { App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { MirrorLock } from 'cdk8s-trusted-registry';

// images.lock.json is what `trusted-registry mirror` wrote, next to cdk8s.yaml.
const app = new App({ resolvers: [MirrorLock.fromFile('images.lock.json')] });
const chart = new Chart(app, 'web', { namespace: 'web' });
new kplus.Deployment(chart, 'Web', {
  // Synthesized as its mirror, registry.mycorp.local/mirror/docker.io/library/nginx@sha256:...;
  // an image the lock file lacks fails the synth.
  containers: [{ image: 'nginx:1.27', portNumber: 8080 }],
});
app.synth();
