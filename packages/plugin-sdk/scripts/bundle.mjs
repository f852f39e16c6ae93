// Bundles the SDK's main entry (tsc output dist/index.js and everything it imports: our ipc,
// secrets and proto packages, yamux and its libp2p dependencies, connect-node) into ONE module,
// dist/index.bundle.js, which `exports["."].import` points at. A plugin then loads ~140 modules
// instead of ~420 at start, and only the code it reaches (decisions.md "plugin-sdk: a bundled
// main entry").
//
// @connectrpc/connect and @bufbuild/protobuf (and their subpaths) stay external: ConnectError and
// Code are re-exported from @connectrpc/connect and must be the very class a plugin author gets
// by importing @connectrpc/connect (src/bundle.test.ts); @bufbuild/protobuf is a peer dependency,
// one copy for the author's messages and ours. dist/index.d.ts and the other tsc files stay as
// they are: the types, and the ./testing entry, which imports them.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const dir = new URL('..', import.meta.url);
const entry = new URL('dist/index.js', dir).pathname;
const outfile = new URL('dist/index.bundle.js', dir).pathname;

const result = await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Not minified, no keepNames needed: every error class sets its name literally.
  external: ['@connectrpc/connect', '@bufbuild/protobuf'],
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});
// A CommonJS dependency bundled into ESM would need a `require` shim: refuse instead of shipping
// a bundle that throws "Dynamic require ... is not supported" at start.
const code = readFileSync(outfile, 'utf8');
if (code.includes('__require(')) throw new Error(`${outfile}: a bundled dependency uses require()`);
for (const input of Object.keys(result.metafile.inputs)) {
  if (/node_modules\/(@connectrpc\/connect|@bufbuild\/protobuf)\//.test(input)) {
    throw new Error(`${outfile}: ${input} was bundled; it must stay external`);
  }
}
process.stdout.write(`bundled ${outfile}\n`);
