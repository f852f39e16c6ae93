// Bundles the SDK's main entry (tsc output dist/index.js and everything it imports: our ipc,
// secrets and proto packages, yamux and its libp2p dependencies, @connectrpc/connect,
// connect-node and @bufbuild/protobuf) into ONE module, dist/index.bundle.js, which
// `exports["."].import` points at. A plugin then loads one file instead of ~420 modules, and only
// the code it reaches (decisions.md "plugin-sdk: a bundled main entry" and "the whole SDK in one
// file").
//
// ConnectError and Code are the bundle's own copies: connect's ConnectError checks `instanceof` by
// shape across copies (Symbol.hasInstance), so an error made with the author's @connectrpc/connect
// and one made with ours are each an instance of the other's class (src/bundle.test.ts). Syntax
// and whitespace are minified (a third less to parse: −20% start-up); identifiers are not, so
// class and function names stay readable in stack traces. dist/index.d.ts and the other tsc files
// stay as they are: the types, and the ./testing entry, which imports them.
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { build } from 'esbuild';

const NODE_BUILTINS = new Set(builtinModules);

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
  // Identifiers are kept (no keepNames needed), only syntax and whitespace are minified.
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});
// A CommonJS dependency bundled into ESM would need a `require` shim: refuse instead of shipping
// a bundle that throws "Dynamic require ... is not supported" at start.
const code = readFileSync(outfile, 'utf8');
if (code.includes('__require(')) throw new Error(`${outfile}: a bundled dependency uses require()`);
// Every import left is a Node built-in: a bare specifier would need a dependency at run time.
for (const { path, external } of Object.values(result.metafile.outputs)[0].imports) {
  if (external && !path.startsWith('node:') && !NODE_BUILTINS.has(path)) {
    throw new Error(`${outfile}: imports ${path}; everything but Node's built-ins must be bundled`);
  }
}
process.stdout.write(`bundled ${outfile}\n`);
