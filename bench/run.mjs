// Runs every benchmark and prints a Markdown table (see bench/README.md for the method).
// Usage: node bench/run.mjs [--smoke]   (--smoke: few runs, small sizes; finishes in seconds)
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { table } from './stats.mjs';
import { benchScale } from './scale.mjs';
import { benchSynth } from './synth.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const smoke = process.argv.includes('--smoke');
const runs = smoke ? 3 : 7;

const rows = [...benchSynth({ root, runs }), ...benchScale({ root, runs, sizes: smoke ? [10, 100] : [10, 100, 1000] })];

console.log(`Machine: ${cpus().length} × ${cpus()[0].model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ${runs} runs per figure${smoke ? ' (smoke)' : ''}\n`);
console.log(table(rows));
