// Bundles the plugin executable (tsc output + its node_modules) into ONE file, dist/<name>.mjs, with
// a shebang and mode 0755: the package's bin. A launched plugin then loads one module instead of a
// few hundred, which is most of its start time (examples/file-provider README "Start time").
import { chmodSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';

const NAME = 'plugin-keychain';
const dir = new URL('..', import.meta.url);
const outfile = new URL(`dist/${NAME}.mjs`, dir).pathname;
const entry = new URL('dist/main.js', dir).pathname;

// The entry keeps its own shebang out of the way: esbuild would put it first anyway, but we add
// the `require` shim for the few CommonJS dependencies right after it.
const source = readFileSync(entry, 'utf8');
if (!source.startsWith('#!')) throw new Error(`${entry} has no shebang`);

await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  // The native keychain binding stays a dependency: its platform package holds a .node file.
  external: ['@napi-rs/keyring'],
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // No keepNames: every error class of the SDK sets its name literally (src/minified.test.ts).
  legalComments: 'none',
  logLevel: 'warning',
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
chmodSync(outfile, 0o755);
const head = readFileSync(outfile, 'utf8').slice(0, 64);
if (!head.startsWith('#!/usr/bin/env node\n')) throw new Error(`${outfile} does not start with the shebang`);
process.stdout.write(`bundled ${outfile}\n`);
