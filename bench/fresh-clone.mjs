// "Fresh clone -> YAML" without a network: clones HEAD into a temporary directory, then times
// `npm ci --offline` (from the npm cache, as an air-gapped machine has it from a mirror or an
// earlier install) and `npm run synth` with every network call of their Node processes refused
// (test/util/deny-network.js) and an unanswered proxy in the environment. A first clone, not
// offline, fills the cache (`npm ci --prefer-offline`) and is timed as the online baseline.
// One run each: it takes minutes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmtMs, fmtRatio } from './stats.mjs';

export function benchFreshClone({ root }) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-fresh-'));
  const clone = join(dir, 'clone');
  const log = join(dir, 'network.log');
  const offline = {
    ...process.env,
    HTTP_PROXY: 'http://127.0.0.1:9',
    HTTPS_PROXY: 'http://127.0.0.1:9',
    NODE_OPTIONS: `--require ${join(root, 'test', 'util', 'deny-network.js')}`,
    DENY_NETWORK_LOG: log,
    npm_config_update_notifier: 'false',
  };
  const step = (command, args, cwd, env = process.env) => {
    const start = process.hrtime.bigint();
    const result = spawnSync(command, args, { cwd, env, encoding: 'utf-8' });
    if (result.status !== 0) {
      throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
    }
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  try {
    const warm = join(dir, 'warm');
    step('git', ['clone', '--quiet', root, warm], dir);
    const online = step('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], warm);
    rmSync(warm, { recursive: true, force: true });
    step('git', ['clone', '--quiet', root, clone], dir);
    const install = step('npm', ['ci', '--offline', '--no-audit', '--no-fund'], clone, offline);
    const synth = step('npm', ['run', 'synth'], clone, offline);
    let calls = '';
    try {
      calls = readFileSync(log, 'utf-8');
    } catch {
      // No network call was recorded.
    }
    const noCalls = calls.trim() === '';
    return [
      { figure: 'fresh clone: `npm ci --offline` (1 run)', project: fmtMs(install), baseline: `online, warm cache ${fmtMs(online)}`, ratio: fmtRatio(install / online), target: 'reported', met: true },
      { figure: 'fresh clone: `npm run synth` (compile + synth, 1 run)', project: fmtMs(synth), baseline: '-', ratio: '-', target: 'no network call', met: noCalls },
      { figure: 'fresh clone -> YAML, offline (1 run)', project: fmtMs(install + synth), baseline: '-', ratio: '-', target: 'reported', met: true },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
