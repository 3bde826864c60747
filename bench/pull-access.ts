/*
 * Times the synthesis of a registry with generated credentials and a pull grant to N namespaces
 * (default 500). Run: npx ts-node --transpile-only bench/pull-access.ts [N]
 */
import { performance } from 'perf_hooks';
import { App, Chart } from 'cdk8s';
import { HtpasswdSource, PrivateRegistry } from '../src';

const count = Number(process.argv[2] ?? 500);
const namespaces = Array.from({ length: count }, (_, i) => `team-${i}`);

const start = performance.now();
const app = new App({ outdir: 'bench/out' });
const chart = new Chart(app, 'bench', { namespace: 'registry' });
const registry = new PrivateRegistry(chart, 'Registry', { host: 'registry.example.com', htpasswd: HtpasswdSource.generated() });
registry.grantPull('Apps', { namespaces, serviceAccounts: ['default'] });
const objects = chart.toJson().length;
const built = performance.now();
app.synth();
const written = performance.now();

// eslint-disable-next-line no-console
console.log(`${count} namespaces: ${objects} objects, construct + toJson ${(built - start).toFixed(0)} ms, synth to YAML ${(written - built).toFixed(0)} ms`);
