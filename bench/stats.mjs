// Timing helpers shared by the benchmarks: repeated runs, medians, ratios, a Markdown table.
import { spawnSync } from 'node:child_process';

/** Median of numbers. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Runs a command `runs` times (after one warm-up) and returns the wall times in ms. */
export function timeCommand(command, args, { runs, env = {}, cwd } = {}) {
  const once = () => {
    const start = process.hrtime.bigint();
    const result = spawnSync(command, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf-8' });
    const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.status !== 0) {
      throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
    }
    return { elapsed, stdout: result.stdout };
  };
  once(); // warm the file system cache: every run then measures the same thing
  return Array.from({ length: runs }, () => once().elapsed);
}

/** Runs a node script that prints one JSON line; returns the parsed objects of `runs` runs. */
export function runJson(script, args, { runs, env = {}, cwd } = {}) {
  return Array.from({ length: runs }, () => {
    const result = spawnSync(process.execPath, [script, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf-8' });
    if (result.status !== 0) {
      throw new Error(`${script} ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
    }
    return JSON.parse(result.stdout.trim().split('\n').pop());
  });
}

/** A Markdown table of result rows {figure, project, baseline, ratio, target, met}. */
export function table(rows) {
  const header = '| figure | project | baseline | ratio | target | met |\n| --- | --- | --- | --- | --- | --- |';
  return [header, ...rows.map((r) => `| ${r.figure} | ${r.project} | ${r.baseline} | ${r.ratio} | ${r.target} | ${r.met ? 'yes' : '**no**'} |`)].join('\n');
}

export const fmtMs = (ms) => `${ms.toFixed(0)} ms`;
export const fmtRatio = (r) => `${r.toFixed(2)}×`;
