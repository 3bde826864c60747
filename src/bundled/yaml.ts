// The YAML parser of the `trusted-registry` command, bundled into the package with this module
// (scripts/bundle-dependencies.js).
export { parseAllDocuments } from 'yaml';
