#!/usr/bin/env node
// Regenerates imports/k8s.ts with cdk8s-cli's own Kubernetes importer, fed from a schema given as a
// local path or an http(s) URL. `cdk8s import k8s@X` can only download its schema from a fixed
// host; this script reuses the same generator so the output is byte-identical to what it writes.
// Only the kinds the library creates (API_OBJECTS) and the types they refer to are generated: the
// full API is 626 definitions and 600 kB of JavaScript in the package, for 12 objects used.
//
// Usage: node scripts/import-k8s.js [SCHEMA_PATH_OR_URL] [K8S_VERSION] [OUTDIR]
//   defaults: test/fixtures/k8s-schemas/v1.30.0/_definitions.json.gz (the schema vendored in this
//   repository, gzipped), 1.30.0, imports/. A path ending in .gz is read gunzipped.
// With internet: node scripts/import-k8s.js \
//   https://raw.githubusercontent.com/cdk8s-team/cdk8s/master/kubernetes-schemas/v1.30.0/_definitions.json
const fs = require('fs');
const zlib = require('zlib');
const path = require('path');
// cdk8s-cli does not export its importer; load its files by path (pinned in package-lock.json).
const cliLib = path.join(path.dirname(require.resolve('cdk8s-cli/package.json')), 'lib');
const cliUtil = require(path.join(cliLib, 'util'));
const { ImportKubernetesApi } = require(path.join(cliLib, 'import', 'k8s'));
const { Language } = require(path.join(cliLib, 'import', 'base'));

// The Kubernetes objects the library's constructs create with the generated classes (cdk8s-plus-27
// makes the others). A construct that needs another kind adds it here and reruns `npm run import:k8s`.
const API_OBJECTS = [
  'io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy',
  'io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBinding',
  'io.k8s.api.admissionregistration.v1beta1.ValidatingAdmissionPolicy',
  'io.k8s.api.admissionregistration.v1beta1.ValidatingAdmissionPolicyBinding',
  'io.k8s.api.apps.v1.DaemonSet',
  'io.k8s.api.batch.v1.Job',
  'io.k8s.api.core.v1.ConfigMap',
  'io.k8s.api.core.v1.ServiceAccount',
  'io.k8s.api.networking.v1.NetworkPolicy',
  'io.k8s.api.rbac.v1.Role',
  'io.k8s.api.rbac.v1.RoleBinding',
];

/** The schema with only `objects` and every definition they refer to, directly or not. */
function pruneSchema(schema, objects) {
  const kept = {};
  const pending = [...objects];
  while (pending.length > 0) {
    const name = pending.pop();
    if (kept[name]) {
      continue;
    }
    const definition = schema.definitions[name];
    if (!definition) {
      throw new Error(`the schema has no definition "${name}"`);
    }
    kept[name] = definition;
    for (const [, ref] of JSON.stringify(definition).matchAll(/"\$ref":"#\/definitions\/([^"]+)"/g)) {
      pending.push(ref);
    }
  }
  // The schema's own order, so the generated file does not depend on the walk.
  return { ...schema, definitions: Object.fromEntries(Object.keys(schema.definitions).filter((name) => kept[name]).map((name) => [name, kept[name]])) };
}

const root = path.resolve(__dirname, '..');
const source = process.argv[2] ?? path.join(root, 'test', 'fixtures', 'k8s-schemas', 'v1.30.0', '_definitions.json.gz');
const apiVersion = process.argv[3] ?? '1.30.0';
const outdir = path.resolve(process.argv[4] ?? path.join(root, 'imports'));

async function main() {
  const isUrl = /^https?:\/\//.test(source);
  if (!isUrl && !fs.existsSync(source)) {
    throw new Error(`schema not found at "${source}": pass a path or URL to a Kubernetes _definitions.json`);
  }
  const fetchSchema = cliUtil.download;
  // The importer asks util.download() for its fixed URL; answer with the schema we were given.
  const readLocal = () => (source.endsWith('.gz') ? zlib.gunzipSync(fs.readFileSync(source)) : fs.readFileSync(source)).toString('utf-8');
  const full = JSON.parse(isUrl ? await fetchSchema(source) : readLocal());
  cliUtil.download = async () => JSON.stringify(pruneSchema(full, API_OBJECTS));

  const importer = new ImportKubernetesApi({ apiVersion });
  await importer.import({
    outdir,
    targetLanguage: Language.TYPESCRIPT,
    moduleNamePrefix: undefined,
  });
}

main().catch((err) => {
  console.error(`import-k8s: ${err.message}`);
  process.exit(1);
});
