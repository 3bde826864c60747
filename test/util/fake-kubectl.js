/*
 * A stand-in for `kubectl` that keeps the API's objects as JSON files, so that the credentials
 * scripts run unchanged in tests. Offline commands (`create secret ... --dry-run=client`,
 * `annotate --local`) and every JSONPath query go to the real kubectl at $REAL_KUBECTL; only the
 * API reads and writes (`get`, `create -f`, `replace -f`, `patch --type=json`) are emulated.
 *
 * Environment: REAL_KUBECTL, FAKE_KUBE_STATE (a directory: <namespace>/<kind>/<name>.json, and
 * calls.jsonl with the arguments of every call).
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const state = process.env.FAKE_KUBE_STATE;
const args = process.argv.slice(2);
fs.appendFileSync(path.join(state, 'calls.jsonl'), JSON.stringify(args) + '\n');

function real(realArgs, input) {
  const result = spawnSync(process.env.REAL_KUBECTL, realArgs, {
    input,
    env: { ...process.env, KUBECONFIG: '/dev/null' },
  });
  return { code: result.status, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

function passThrough() {
  const result = real(args, fs.readFileSync(0));
  exitAfterWriting(result);
}

// process.exit() right after process.stdout.write() to a pipe drops what the pipe has not taken
// yet (past 64 KiB): write synchronously, retrying while the reader is slow, then exit.
function writeAllSync(fd, text) {
  const bytes = Buffer.from(text);
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += fs.writeSync(fd, bytes, offset);
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
    }
  }
}

function exitAfterWriting(result) {
  writeAllSync(1, result.stdout);
  writeAllSync(2, result.stderr);
  process.exit(result.code);
}

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

// Flags with a value, in the spellings the scripts use.
const flags = {};
const positional = [];
for (let i = 0; i < args.length; i++) {
  const match = /^(--namespace|-n|-o|-f|-p|--type)(?:=(.*))?$/.exec(args[i]);
  if (match) {
    flags[match[1] === '-n' ? '--namespace' : match[1]] = match[2] ?? args[++i];
  } else if (args[i].startsWith('-')) {
    flags[args[i]] = true;
  } else {
    positional.push(args[i]);
  }
}

const KINDS = { secret: 'Secret', secrets: 'Secret', serviceaccount: 'ServiceAccount', serviceaccounts: 'ServiceAccount', sa: 'ServiceAccount' };
const [verb, kindArg, name] = positional;
const namespace = flags['--namespace'] ?? 'default';
const file = (ns, kind, objectName) => path.join(state, ns, kind, `${objectName}.json`);

if ((verb === 'create' && kindArg === 'secret' && flags['--dry-run=client']) || (verb === 'annotate' && flags['--local'])) {
  passThrough();
}

if (verb === 'get') {
  const kind = KINDS[kindArg];
  const target = file(namespace, kind, name);
  if (!fs.existsSync(target)) {
    if (flags['--ignore-not-found']) {
      process.exit(0);
    }
    fail(`Error from server (NotFound): ${kindArg}s "${name}" not found`);
  }
  // JSONPath and other output formats are evaluated by the real kubectl on the stored object.
  const result = real(['annotate', '--local', '-f', target, 'fake-kubectl-no-such-annotation-', '-o', flags['-o']]);
  exitAfterWriting(result);
}

if ((verb === 'create' || verb === 'replace') && flags['-f']) {
  const input = fs.readFileSync(flags['-f'] === '-' ? 0 : flags['-f']);
  const converted = real(['annotate', '--local', '-f', '-', 'fake-kubectl-no-such-annotation-', '-o', 'json'], input);
  if (converted.code !== 0) {
    fail(converted.stderr);
  }
  const object = JSON.parse(converted.stdout);
  delete object.metadata.creationTimestamp;
  const ns = object.metadata.namespace ?? namespace;
  object.metadata.namespace = ns;
  const target = file(ns, object.kind, object.metadata.name);
  if (verb === 'create' && fs.existsSync(target)) {
    fail(`Error from server (AlreadyExists): error when creating: ${object.kind} "${object.metadata.name}" already exists`);
  }
  if (verb === 'replace' && !fs.existsSync(target)) {
    fail(`Error from server (NotFound): error when replacing: ${object.kind} "${object.metadata.name}" not found`);
  }
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, JSON.stringify(object, null, 2));
  process.stdout.write(`${object.kind.toLowerCase()}/${object.metadata.name} ${verb}d\n`);
  process.exit(0);
}

if (verb === 'patch' && flags['--type'] === 'json') {
  const target = file(namespace, KINDS[kindArg], name);
  if (!fs.existsSync(target)) {
    fail(`Error from server (NotFound): ${kindArg}s "${name}" not found`);
  }
  const object = JSON.parse(fs.readFileSync(target, 'utf-8'));
  for (const operation of JSON.parse(flags['-p'])) {
    if (operation.op !== 'add') {
      fail(`fake kubectl: unsupported JSON patch op ${operation.op}`);
    }
    const keys = operation.path.split('/').slice(1);
    const last = keys.pop();
    const parent = keys.reduce((node, key) => node[key], object);
    if (Array.isArray(parent)) {
      parent.splice(last === '-' ? parent.length : Number(last), 0, operation.value);
    } else {
      parent[last] = operation.value;
    }
  }
  fs.writeFileSync(target, JSON.stringify(object, null, 2));
  process.stdout.write(`${kindArg}/${name} patched\n`);
  process.exit(0);
}

fail(`fake kubectl: unsupported command: ${args.join(' ')}`);
