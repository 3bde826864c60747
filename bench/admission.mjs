// Admission latency on a real kube-apiserver: runs bench/admission.ts under ts-node (it reuses the
// control plane of test/kube) and turns its raw samples into table rows.
import { spawnSync } from 'node:child_process';
import { median } from './stats.mjs';

const TIMEOUT_MS = 20 * 60_000;

/** The value below which `fraction` of the samples lie (nearest rank). */
function percentile(values, fraction) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}

const fmt = (ms) => `${ms.toFixed(2)} ms`;

export function benchAdmission({ root, smoke }) {
  const result = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'bench/admission.ts', ...(smoke ? ['--smoke'] : [])], {
    cwd: root,
    encoding: 'utf-8',
    timeout: TIMEOUT_MS,
    killSignal: 'SIGTERM', // admission.ts exits on it and its exit hook stops the control plane
  });
  if (result.status !== 0) {
    throw new Error(`admission.ts failed (${result.status ?? result.signal}): ${result.stderr}`);
  }
  const r = JSON.parse(result.stdout.trim().split('\n').pop());
  const rows = [];
  for (const mode of ['dryRun', 'real']) {
    for (const containers of r.containerCounts) {
      const samples = (condition) => r.ms[`${condition}/${mode}/${containers}`];
      const policy = samples('policy');
      const none = samples('none');
      const exempt = samples('exempt');
      const added = median(policy) - median(none);
      const target = containers === 10 ? 1 : undefined;
      rows.push({
        figure: `pod CREATE${mode === 'dryRun' ? ' (server dry-run)' : ''}, ${containers} container${containers > 1 ? 's' : ''}, v${r.version}: policy bound vs no policy (median, p99 of ${r.samples})`,
        project: `${fmt(median(policy))}, p99 ${fmt(percentile(policy, 0.99))}`,
        baseline: `no policy ${fmt(median(none))}, p99 ${fmt(percentile(none, 0.99))}; exempt namespace ${fmt(median(exempt))}`,
        ratio: `+${fmt(added)} median`,
        target: target ? `≤ +${target} ms median` : 'reported',
        met: target ? added <= target : true,
      });
    }
  }
  return rows;
}
