#!/usr/bin/env node
// Exits 0 when lib/ must be (re)compiled: it is missing or older than a file the compiler reads.
// `npm run synth` compiles only then, so a synth after `npm test` (or a second synth) does not
// pay for jsii again; a fresh clone or any edit under src/ or imports/ still compiles.
const { readdirSync, statSync } = require('fs');
const { join } = require('path');

const root = join(__dirname, '..');

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) {
    return stat.mtimeMs;
  }
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

let built;
try {
  built = statSync(join(root, '.jsii')).mtimeMs;
} catch {
  process.exit(0);
}
const inputs = ['src', 'imports', 'tsconfig.json', 'package.json'].map((name) => newest(join(root, name)));
process.exit(Math.max(...inputs) > built ? 0 : 1);
