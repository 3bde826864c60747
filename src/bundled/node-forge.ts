// node-forge's modules register themselves on one shared object. Only those a self-signed
// certificate needs are loaded, and bundled into the package with this module
// (scripts/bundle-dependencies.js): 170 kB instead of node-forge's 1.7 MB.
import type * as Forge from 'node-forge';

require('node-forge/lib/x509');
// x509 signs and hashes with these, but leaves loading them to its caller.
require('node-forge/lib/sha1');
require('node-forge/lib/sha256');

export const forge: typeof Forge = require('node-forge/lib/forge');
