import { App } from 'cdk8s';
import { chartPropsFromEnv } from './app-config';
import { TrustedRegistryChart } from './trusted-registry-chart';

// The default app: `cdk8s synth` runs this file (compiled) and writes dist/trusted-registry.k8s.yaml.
try {
  const app = new App();
  new TrustedRegistryChart(app, 'trusted-registry', chartPropsFromEnv(process.env));
  app.synth();
} catch (error) {
  // A configuration mistake deserves one readable line, not a stack trace.
  console.error(`error: ${(error as Error).message}`);
  process.exit(1);
}
