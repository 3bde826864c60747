// Data-path benchmarks (what TLS and htpasswd cost on the registry's hot path): runs
// bench/data-path.ts under ts-node, so that it reuses the e2e fixture (synthesize, materialize,
// start the real registry), and turns its raw samples into table rows.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './stats.mjs';

const MiB = 2 ** 20;
const TIMEOUT_MS = 15 * 60_000;

function runDataPath(root, mode, smoke) {
  // Scratch (images, registry storage, pulls) on tmpfs: disk speed is common to both sides and
  // would only dilute what security costs.
  const scratch = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'bench-data-path-'));
  try {
    const result = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'bench/data-path.ts', mode, ...(smoke ? ['--smoke'] : [])], {
      cwd: root,
      env: { ...process.env, TMPDIR: scratch },
      encoding: 'utf-8',
      timeout: TIMEOUT_MS,
      killSignal: 'SIGTERM', // data-path.ts exits on it and its exit hook kills the registries
    });
    if (result.status !== 0) {
      throw new Error(`data-path.ts ${mode} failed (${result.status ?? result.signal}): ${result.stderr}`);
    }
    return JSON.parse(result.stdout.trim().split('\n').pop());
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const fmtMiBs = (v) => `${v.toFixed(0)} MiB/s`;
const fmtRps = (v) => `${v.toFixed(v < 100 ? 1 : 0)} req/s`;
// Three decimals: a ratio just under its target must not print as equal to it.
const fmtRatio = (r) => `${r.toFixed(3)}×`;

/**
 * Push (to the writer) and pull (from the read-only reader) of a multi-layer image: synthesized
 * config (TLS + htpasswd) vs a bare registry (neither, not read-only).
 */
export function benchTransfer({ root, smoke }) {
  const r = runDataPath(root, 'transfer', smoke);
  const size = `${r.layers} × ${r.layerBytes / MiB} MiB`;
  const mibs = (ms) => r.imageBytes / MiB / (ms / 1000);
  const path = { push: 'push identity to the writer', pull: 'pull identity from the read-only reader' };
  const row = (op, target) => {
    const secured = mibs(median(r.samples.secured[op]));
    const bare = mibs(median(r.samples.bare[op]));
    const ratio = secured / bare;
    return {
      figure: `${op} ${size} (skopeo, median of ${r.runs}): ${path[op]}, TLS + htpasswd vs bare registry`,
      project: `${fmtMiBs(secured)} (${median(r.samples.secured[op]).toFixed(0)} ms)`,
      baseline: `bare ${fmtMiBs(bare)} (${median(r.samples.bare[op]).toFixed(0)} ms)`,
      ratio: fmtRatio(ratio),
      target: target ? `≥ ${target.toFixed(2)}×` : 'reported',
      met: target ? ratio >= target : true,
    };
  };
  return [row('push'), row('pull', 0.8)];
}

/**
 * Authenticated HEAD manifest requests per second on the read-only reader by bcrypt cost, vs the
 * reader without auth over TLS and a bare registry (plain HTTP, no auth, not read-only).
 */
export function benchHead({ root, smoke }) {
  const r = runDataPath(root, 'head', smoke);
  const rps = Object.fromEntries(Object.entries(r.rps).map(([name, samples]) => [name, median(samples)]));
  const ours = `cost${r.ourCost}`;
  const how = `median of ${r.reps} × ${r.durationMs / 1000} s, ${r.concurrency} keep-alive conns`;
  const row = (name, label, baseline, baselineLabel, target) => {
    const ratio = rps[name] / rps[baseline];
    return {
      figure: `HEAD manifest, ${label} (${how})`,
      project: fmtRps(rps[name]),
      baseline: `${baselineLabel} ${fmtRps(rps[baseline])}`,
      ratio: fmtRatio(ratio),
      target: target ? `≥ ${target.toFixed(2)}×` : 'reported',
      met: target ? ratio >= target : true,
    };
  };
  return [
    row(ours, `read-only reader, TLS + bcrypt cost ${r.ourCost} (synthesized) vs reader, TLS, no auth`, 'tls', 'TLS, no auth', 0.5),
    row(ours, `read-only reader, TLS + bcrypt cost ${r.ourCost} (synthesized) vs bare registry`, 'plain', 'bare'),
    row('tls', 'read-only reader, TLS, no auth vs bare registry', 'plain', 'bare'),
    row('cost5', 'reader, TLS + bcrypt cost 5 (htpasswd -B default) vs reader, TLS, no auth', 'tls', 'TLS, no auth'),
    row('cost10', 'reader, TLS + bcrypt cost 10 vs reader, TLS, no auth', 'tls', 'TLS, no auth'),
    row('cost12', 'reader, TLS + bcrypt cost 12 vs reader, TLS, no auth', 'tls', 'TLS, no auth'),
  ];
}
