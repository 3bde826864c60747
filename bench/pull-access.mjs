// Pull access benchmark: a registry with generated credentials granting pull access to N
// namespaces, built and synthesized to YAML in one process (compiled lib/, as the app runs),
// against the same registry without a grant. Run directly, it measures once and prints JSON.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtMs, median, runJson } from './stats.mjs';

const script = fileURLToPath(import.meta.url);

export function benchPullAccess({ root, runs, namespaces = 500 }) {
  const measure = (count) => runJson(script, [String(count)], { runs, cwd: root });
  const grant = measure(namespaces);
  const none = measure(0);
  const ms = median(grant.map((r) => r.ms));
  const baseline = median(none.map((r) => r.ms));
  return [{
    figure: `grantPull() to ${namespaces} namespaces, build + synth in-process (median)`,
    project: `${fmtMs(ms)} (${grant[0].objects} objects)`,
    baseline: `no grant ${fmtMs(baseline)} (${none[0].objects} objects)`,
    ratio: `+${fmtMs(ms - baseline)}`,
    target: 'reported',
    met: true,
  }];
}

if (process.argv[1] === script) {
  const require = createRequire(join(process.cwd(), 'package.json'));
  const { App, Chart } = require('cdk8s');
  const { HtpasswdSource, PrivateRegistry } = require('./lib/src/index.js');
  const count = Number(process.argv[2]);
  const outdir = mkdtempSync(join(tmpdir(), 'bench-pull-access-'));
  try {
    const start = process.hrtime.bigint();
    const app = new App({ outdir });
    const chart = new Chart(app, 'bench', { namespace: 'registry' });
    const registry = new PrivateRegistry(chart, 'Registry', { host: 'registry.example.com', htpasswd: HtpasswdSource.generated() });
    if (count > 0) {
      registry.grantPull('Apps', { namespaces: Array.from({ length: count }, (_, i) => `team-${i}`), serviceAccounts: ['default'] });
    }
    app.synth();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    console.log(JSON.stringify({ ms, objects: chart.toJson().length }));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
