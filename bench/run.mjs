// Runs the benchmarks and prints a Markdown table (see bench/README.md for the method).
// Usage: node bench/run.mjs [--smoke] [--only section,...]
//   --smoke: few runs, small sizes; finishes in about a minute.
//   --only:  a comma-separated subset of the sections synth, scale, transfer, head, preflight, admission, fresh.
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { table } from './stats.mjs';
import { benchAdmission } from './admission.mjs';
import { benchTransfer, benchHead } from './data-path.mjs';
import { benchPreflight } from './preflight.mjs';
import { benchFreshClone } from './fresh-clone.mjs';
import { benchScale } from './scale.mjs';
import { benchSynth } from './synth.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const smoke = process.argv.includes('--smoke');
const runs = smoke ? 3 : 7;

const sections = {
  synth: () => benchSynth({ root, runs }),
  scale: () => benchScale({ root, runs, sizes: smoke ? [10, 100] : [10, 100, 1000] }),
  transfer: () => benchTransfer({ root, smoke }),
  head: () => benchHead({ root, smoke }),
  preflight: () => benchPreflight({ root, runs, sizes: smoke ? [1000] : [1000, 10000] }),
  admission: () => benchAdmission({ root, smoke }),
  fresh: () => benchFreshClone({ root }),
};
const onlyIndex = process.argv.indexOf('--only');
const selected = onlyIndex === -1 ? Object.keys(sections) : (process.argv[onlyIndex + 1] ?? '').split(',');
const unknown = selected.filter((name) => !sections[name]);
if (unknown.length > 0 || selected.length === 0) {
  console.error(`unknown section(s) ${unknown.join(', ')}; choose from ${Object.keys(sections).join(', ')}`);
  process.exit(2);
}

// One section after the other: the machine has few cores and each section must have them all.
const rows = selected.flatMap((name) => sections[name]());

console.log(`Machine: ${cpus().length} × ${cpus()[0].model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; synth/scale: ${runs} runs per figure${smoke ? ' (smoke)' : ''}\n`);
console.log(table(rows));
