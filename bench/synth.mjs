// Synthesis benchmark: the default app run cold as cdk8s.yaml's `app:` command, against a floor
// (a Node process that only loads cdk8s, cdk8s-plus-27 and constructs) and against the same app
// run through ts-node, as a `cdk8s init` project runs it; and what `require()` of the library costs
// an app that already loads cdk8s, cdk8s-plus-27 and constructs. All measured in the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmtMs, fmtRatio, median, timeCommand } from './stats.mjs';

export function benchSynth({ root, runs }) {
  const outdir = mkdtempSync(join(tmpdir(), 'bench-synth-'));
  const env = { CDK8S_OUTDIR: outdir };
  const bin = (name) => join(root, 'node_modules', '.bin', name);
  try {
    const floor = median(timeCommand(process.execPath, ['-e', "require('cdk8s'); require('cdk8s-plus-27'); require('constructs')"], { runs, cwd: root }));
    const app = median(timeCommand(process.execPath, ['lib/src/main.js'], { runs, env, cwd: root }));
    const tsNode = median(timeCommand(bin('ts-node'), ['src/main.ts'], { runs, env, cwd: root }));
    // As `npm run synth` runs it: without the CLI's upgrade check (a network call).
    const cli = median(timeCommand(bin('cdk8s'), ['synth', '--output', outdir], { runs, cwd: root, env: { CDK8S_CHECK_UPGRADE: 'false' } }));
    const library = median(timeCommand(process.execPath, ['-e', "require('cdk8s'); require('cdk8s-plus-27'); require('constructs'); require('./lib/src/index.js')"], { runs, cwd: root }));
    return [
      { figure: 'default app, cold process (median)', project: fmtMs(app), baseline: `floor ${fmtMs(floor)}`, ratio: fmtRatio(app / floor), target: '≤ 1.50×', met: app / floor <= 1.5 },
      { figure: 'default app vs ts-node (median)', project: fmtMs(app), baseline: `ts-node ${fmtMs(tsNode)}`, ratio: `${fmtRatio(tsNode / app)} faster`, target: '≥ 3× faster', met: tsNode / app >= 3 },
      { figure: "`require('cdk8s-trusted-registry')` after cdk8s, cdk8s-plus-27, constructs (median)", project: fmtMs(library), baseline: `floor ${fmtMs(floor)}`, ratio: fmtRatio(library / floor), target: 'reported', met: true },
      { figure: 'full `cdk8s synth` command, no upgrade check (median)', project: fmtMs(cli), baseline: `app alone ${fmtMs(app)}`, ratio: fmtRatio(cli / app), target: 'reported', met: true },
    ];
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
