#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'fs';
import { parseArgs } from 'util';
import { parseAllDocuments } from './bundled/yaml';
import { PolicyEvaluator } from './preflight/policy-evaluator';
import { DUMP_COMMAND, formatReport, parseDump, runPreflight } from './preflight/preflight';

// Modules are loaded by the command that needs them: preflight on a synthesized file loads neither
// cdk8s nor cdk8s-plus-27, which take most of a cold start.
type MirrorModules = typeof import('./mirror/mirror') & typeof import('./mirror/mirror-lock') & typeof import('./mirror/rewrite');
const mirrorModules = (): MirrorModules => ({ ...require('./mirror/mirror'), ...require('./mirror/mirror-lock'), ...require('./mirror/rewrite') });

// `trusted-registry <command>`: the rollout tools shipped with the package (README, "Rolling out").

const USAGE = `Usage:
  trusted-registry preflight [--manifests FILE]... [--json] [--progress] [DUMP]
      What the admission policy would refuse if every workload in DUMP were created now.
      DUMP: the output of \`${DUMP_COMMAND}\` (a file, or - / nothing for stdin).
      --manifests: the synthesized YAML holding the policy and binding (default: the default
      app's chart from the TRUSTED_REGISTRY_* environment variables).
      Exit status 0 when nothing would be refused, 1 otherwise, 2 on bad input.

  trusted-registry mirror --to HOST[/PATH] --lock FILE [--via HOST:PORT] [--authfile FILE]
      [--src-cert-dir DIR] [--dest-cert-dir DIR] [--src-tls-verify=false] [--dest-tls-verify=false] [IMAGES]
      Copies every image listed in IMAGES (one per line, or the JSON of \`preflight --json\`; a file,
      or - / nothing for stdin) by digest with \`skopeo copy --all\` to HOST/PATH/<source host>/<repository>,
      skipping what the registry already holds, and records each in the lock file.
      --via: where to reach the registry from here (e.g. a kubectl port-forward), when not at HOST.
      Exit status 0 when every image is mirrored, 1 otherwise.

  trusted-registry rewrite --lock FILE [--in-place] MANIFEST...
      Replaces every image reference of the pod specs in MANIFEST (YAML) with its mirrored digest
      reference from the lock file; refuses references the lock file does not hold.
`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'preflight': return preflight(rest);
    case 'mirror': return mirror(rest);
    case 'rewrite': return rewrite(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function preflight(args: string[]): number {
  const { values, positionals } = parse(args, {
    manifests: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    progress: { type: 'boolean' },
  });
  if (positionals.length > 1) throw new UsageError('preflight reads one dump');
  const manifests = values.manifests && values.manifests.length > 0
    ? (values.manifests as string[]).flatMap((file) => readYaml(file))
    : defaultAppManifests();
  const evaluator = new PolicyEvaluator(manifests);
  const objects = parseDump(readInput(positionals[0]));
  const showProgress = values.progress ?? (process.stderr.isTTY === true && objects.length >= 1000);
  const report = runPreflight(evaluator, objects, {
    onProgress: showProgress ? (done, total) => process.stderr.write(`preflight: ${done}/${total} objects evaluated\n`) : undefined,
  });
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  return report.refused.length === 0 ? 0 : 1;
}

async function mirror(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    'to': { type: 'string' },
    'via': { type: 'string' },
    'lock': { type: 'string' },
    'authfile': { type: 'string' },
    'src-cert-dir': { type: 'string' },
    'dest-cert-dir': { type: 'string' },
    'src-tls-verify': { type: 'string' },
    'dest-tls-verify': { type: 'string' },
  });
  if (!values.to || !values.lock) throw new UsageError('mirror needs --to and --lock');
  if (positionals.length > 1) throw new UsageError('mirror reads one image list');
  const { MirrorLock, mirrorImages } = mirrorModules();
  const images = parseImageList(readInput(positionals[0]));
  const lock = MirrorLock.fromFileOrEmpty(values.lock, values.to);
  const result = await mirrorImages(images, {
    lock,
    via: values.via,
    skopeo: {
      authfile: values.authfile,
      srcCertDir: values['src-cert-dir'],
      destCertDir: values['dest-cert-dir'],
      srcTlsVerify: booleanFlag('src-tls-verify', values['src-tls-verify']),
      destTlsVerify: booleanFlag('dest-tls-verify', values['dest-tls-verify']),
    },
    log: (line) => process.stderr.write(`${line}\n`),
  });
  writeFileSync(values.lock, lock.toJson());
  for (const failure of result.failed) {
    process.stderr.write(`mirror: FAILED ${failure.image}: ${failure.error}\n`);
  }
  process.stderr.write(`mirror: ${result.copied.length} copied, ${result.present.length} already present, ${result.failed.length} failed; lock file ${values.lock}\n`);
  return result.failed.length === 0 ? 0 : 1;
}

function rewrite(args: string[]): number {
  const { values, positionals } = parse(args, {
    'lock': { type: 'string' },
    'in-place': { type: 'boolean' },
  });
  if (!values.lock) throw new UsageError('rewrite needs --lock');
  if (positionals.length === 0) throw new UsageError('rewrite needs at least one manifest file');
  const { MirrorLock, rewriteManifestImages } = mirrorModules();
  const lock = MirrorLock.fromFile(values.lock);
  for (const file of positionals) {
    const text = readInput(file);
    const rewritten = rewriteManifestImages(text, lock);
    if (values['in-place']) {
      writeFileSync(file, rewritten);
    } else {
      process.stdout.write(rewritten);
    }
  }
  return 0;
}

function parse(args: string[], options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true }) as { values: Record<string, any>; positionals: string[] };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function booleanFlag(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value !== 'true' && value !== 'false') throw new UsageError(`--${name} must be true or false, got "${value}"`);
  return value === 'true';
}

/** A file's content, or stdin for `-` or no file. */
function readInput(file: string | undefined): string {
  return readFileSync(file === undefined || file === '-' ? 0 : file, 'utf-8');
}

function readYaml(file: string): unknown[] {
  return parseAllDocuments(readInput(file)).map((document) => {
    if (document.errors.length > 0) throw new UsageError(`${file}: ${document.errors[0].message}`);
    return document.toJS();
  }).filter((document) => document !== null);
}

/** The default app's chart, as `cdk8s synth` would write it, built in memory. */
function defaultAppManifests(): unknown[] {
  const { App } = require('cdk8s') as typeof import('cdk8s');
  const { chartPropsFromEnv } = require('./app-config') as typeof import('./app-config');
  const { TrustedRegistryChart } = require('./trusted-registry-chart') as typeof import('./trusted-registry-chart');
  const chart = new TrustedRegistryChart(new App(), 'trusted-registry', chartPropsFromEnv(process.env));
  return chart.toJson();
}

/** One image per line (blank lines and `#` comments ignored), or the JSON of `preflight --json`. */
function parseImageList(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const report = JSON.parse(trimmed);
    if (!Array.isArray(report.imagesToMirror)) throw new UsageError('the JSON input has no imagesToMirror list (expected the output of `trusted-registry preflight --json`)');
    return report.imagesToMirror;
  }
  return trimmed.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
}

main(process.argv.slice(2)).then((status) => {
  process.exitCode = status;
}, (error: Error) => {
  process.stderr.write(`error: ${error.message}\n`);
  if (error instanceof UsageError) process.stderr.write(`\n${USAGE}`);
  process.exitCode = 2;
});
