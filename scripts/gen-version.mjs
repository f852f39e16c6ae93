#!/usr/bin/env node
// Writes src/package-version.ts of the package in the current directory from its package.json, so
// a version constant (the engine version a plugin is told, the user agent) never drifts from the
// published version. Run by the package's `build` and `generate` scripts and by `version-packages`
// (for every package that has the file); CI checks the committed files are current.
//
// Usage: node scripts/gen-version.mjs            (in a package directory)
//        node scripts/gen-version.mjs --all      (at the root: every package with the file)
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FILE = join('src', 'package-version.ts');

function generate(dir) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (typeof pkg.version !== 'string' || !/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/.test(pkg.version)) {
    throw new Error(
      `${dir}/package.json: "version" must be a semantic version, got ${JSON.stringify(pkg.version)}`,
    );
  }
  const text =
    `// Generated from package.json by scripts/gen-version.mjs (run by build): do not edit.\n` +
    `/** The version of ${pkg.name} in its package.json. */\n` +
    `export const PACKAGE_VERSION = '${pkg.version}';\n`;
  const target = join(dir, FILE);
  if (existsSync(target) && readFileSync(target, 'utf8') === text) return;
  writeFileSync(target, text);
}

if (process.argv.includes('--all')) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  for (const name of readdirSync(join(root, 'packages'))) {
    const dir = join(root, 'packages', name);
    if (existsSync(join(dir, FILE))) generate(dir);
  }
} else {
  generate(process.cwd());
}
