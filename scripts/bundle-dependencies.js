#!/usr/bin/env node
// Replaces jsii's output for each module of src/bundled/ with that module bundled, minified, with
// the parts of its third-party packages it re-exports, and writes their licenses beside them.
//
// jsii ships every dependency that is not a jsii module whole, in the package's node_modules: 12 MB
// for bcryptjs, node-forge, yaml and the CEL engine (test data, browser and ESM builds included).
// Bundled here they are about 600 kB, the package has no runtime dependency but its peers, and the
// library's sources and tests keep importing the packages themselves (they are dev dependencies).
//
// Usage: node scripts/bundle-dependencies.js (the compile task runs it after jsii).
const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const sources = path.join(root, 'src', 'bundled');
const outdir = path.join(root, 'lib', 'src', 'bundled');
const LICENSES = 'THIRD-PARTY-LICENSES.txt';

/** The installed package a bundled input file belongs to: its name and directory. */
function packageOf(input) {
  const match = /^(.*node_modules\/((?:@[^/]+\/)?[^/]+))\//.exec(input);
  return match ? { name: match[2], dir: path.join(root, match[1]) } : undefined;
}

/** The license header of a source file: its leading comment, when it names a copyright. */
function licenseHeader(file) {
  const match = /^(?:"use strict";\s*)?((?:\/\/[^\n]*\n)+|\/\*[\s\S]*?\*\/)/.exec(fs.readFileSync(file, 'utf-8'));
  return match && /copyright/i.test(match[1]) ? match[1].trim() : undefined;
}

/**
 * A package's license file or, for packages that ship none (the @bufbuild ones), the distinct
 * license headers of the files bundled from it.
 */
function licenseText(pkg) {
  const file = fs.readdirSync(pkg.dir).filter((name) => /^(licen[sc]e|copying)(\.(md|txt))?$/i.test(name)).sort()[0];
  if (file) {
    return fs.readFileSync(path.join(pkg.dir, file), 'utf-8').trim();
  }
  const headers = [...new Set(pkg.files.map((input) => licenseHeader(path.join(root, input))).filter(Boolean))];
  if (headers.length === 0) {
    throw new Error(`${pkg.name} has no license file and its bundled files no license header: it cannot be bundled`);
  }
  return `${pkg.name} ships no license file; its files carry these headers.\n\n${headers.join('\n\n')}`;
}

/** `name version (license)`; SPDX expressions already come in parentheses. */
function describe(pkg) {
  return `${pkg.name} ${pkg.version} ${pkg.license.startsWith('(') ? pkg.license : `(${pkg.license})`}`;
}

function main() {
  const bundled = new Map();
  for (const file of fs.readdirSync(sources).filter((name) => name.endsWith('.ts')).sort()) {
    const outfile = path.join(outdir, file.replace(/\.ts$/, '.js'));
    const result = esbuild.buildSync({
      absWorkingDir: root,
      entryPoints: [path.join(sources, file)],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: true,
      // Their notices go in full to THIRD-PARTY-LICENSES.txt.
      legalComments: 'none',
      metafile: true,
      write: false,
      outfile,
      logLevel: 'error',
    });
    const packages = new Map();
    for (const input of Object.keys(result.metafile.inputs).sort()) {
      const pkg = packageOf(input);
      if (pkg && !packages.has(pkg.name)) {
        const manifest = JSON.parse(fs.readFileSync(path.join(pkg.dir, 'package.json'), 'utf-8'));
        packages.set(pkg.name, { ...pkg, version: manifest.version, license: manifest.license, files: [] });
      }
      if (pkg) {
        packages.get(pkg.name).files.push(input);
      }
    }
    if (packages.size === 0) {
      throw new Error(`src/bundled/${file} bundles no package: it belongs elsewhere in src/`);
    }
    const names = [...packages.values()].map(describe).join(', ');
    const banner = `// Bundled from ${names} by scripts/bundle-dependencies.js; their licenses: ./${LICENSES}\n`;
    fs.mkdirSync(outdir, { recursive: true });
    fs.writeFileSync(outfile, banner + result.outputFiles[0].text);
    for (const pkg of packages.values()) {
      const seen = bundled.get(pkg.name);
      bundled.set(pkg.name, seen ? { ...pkg, files: [...new Set([...seen.files, ...pkg.files])].sort() } : pkg);
    }
  }

  const notices = [...bundled.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((pkg) => `${describe(pkg)}\n${'='.repeat(72)}\n\n${licenseText(pkg)}\n`);
  fs.writeFileSync(path.join(outdir, LICENSES), `The modules of this folder bundle these packages, under these licenses.\n\n${notices.join('\n\n')}`);
}

try {
  main();
} catch (err) {
  console.error(`bundle-dependencies: ${err.message}`);
  process.exit(1);
}
