#!/usr/bin/env node
// Regenerates imports/cert-manager.io.ts (typed Certificate, Issuer and ClusterIssuer constructs)
// with `cdk8s import`, and copies the CRDs it was generated from to test/fixtures/crds/cert-manager/
// so the tests validate synthesized objects against exactly the schema the types come from.
//
// Usage: node scripts/import-cert-manager.js [CRD_DIR] [OUT_DIR]
//   CRD_DIR holds cert-manager.io_{certificates,issuers,clusterissuers}.yaml
//   (default: ../shared/crds/cert-manager; upstream: cert-manager/cert-manager deploy/crds/).
//   OUT_DIR receives cert-manager.io.ts (default: imports/).
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const source = path.resolve(process.argv[2] ?? path.join(root, '..', 'shared', 'crds', 'cert-manager'));
const files = ['cert-manager.io_certificates.yaml', 'cert-manager.io_clusterissuers.yaml', 'cert-manager.io_issuers.yaml'];
const outdir = path.resolve(process.argv[3] ?? path.join(root, 'imports'));
const fixtures = path.join(root, 'test', 'fixtures', 'crds', 'cert-manager');

function main() {
  for (const file of files) {
    if (!fs.existsSync(path.join(source, file))) {
      throw new Error(`CRD not found at "${path.join(source, file)}": pass the directory holding ${files.join(', ')}`);
    }
  }
  if (source !== fixtures) {
    fs.mkdirSync(fixtures, { recursive: true });
    for (const file of files) {
      // Copies the content only: the source may be read-only, the fixture must stay rewritable.
      fs.writeFileSync(path.join(fixtures, file), fs.readFileSync(path.join(source, file)));
    }
  }

  // One import of all three CRDs: they share the group, and separate imports would each
  // overwrite imports/cert-manager.io.ts with only their own kind.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'import-cert-manager-'));
  try {
    const combined = path.join(work, 'cert-manager.yaml');
    fs.writeFileSync(combined, files.map((file) => fs.readFileSync(path.join(fixtures, file), 'utf-8')).join('\n'));
    const cdk8s = path.join(path.dirname(require.resolve('cdk8s-cli/package.json')), 'bin', 'cdk8s');
    // Run from the work directory: in the project, `cdk8s import` would record its temporary
    // source in cdk8s.yaml.
    const result = spawnSync(process.execPath, [cdk8s, 'import', combined, '--output', outdir, '--language', 'typescript', '--no-check-upgrade'], { cwd: work, stdio: 'inherit' });
    if (result.status !== 0) {
      throw new Error(`cdk8s import exited with ${result.status ?? result.signal}`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

try {
  main();
} catch (err) {
  console.error(`import-cert-manager: ${err.message}`);
  process.exit(1);
}
