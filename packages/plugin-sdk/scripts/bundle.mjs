// Bundles the SDK's main entry (tsc output dist/index.js and everything it imports: our ipc,
// secrets and proto packages, yamux and its libp2p dependencies, @connectrpc/connect,
// connect-node and @bufbuild/protobuf) into dist/index.bundle.js and its chunks, which
// `exports["."].import` points at. A plugin then loads a few files instead of ~420 modules, and
// only the code it reaches (decisions.md "plugin-sdk: the whole SDK in one file").
//
// ConnectError and Code are the bundle's own copies: connect's ConnectError checks `instanceof` by
// shape across copies (Symbol.hasInstance), so an error made with the author's @connectrpc/connect
// and one made with ours are each an instance of the other's class (src/bundle.test.ts). Syntax
// and whitespace are minified (a third less to parse: −20% start-up); identifiers are not, so
// class and function names stay readable in stack traces. dist/index.d.ts and the other tsc files
// stay as they are: the types, and the ./testing entry, which imports them.
import { readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { build } from 'esbuild';

const NODE_BUILTINS = new Set(builtinModules);

const dir = new URL('..', import.meta.url);
const entry = new URL('dist/index.js', dir).pathname;
const outdir = new URL('dist', dir).pathname;
rmSync(new URL('dist/chunks', dir), { recursive: true, force: true });

const result = await build({
  entryPoints: [entry],
  outdir,
  entryNames: '[name].bundle',
  // What is imported on demand (connect-node, for the stock paths; it loads node:http2 and
  // node:https) is a chunk of its own, loaded only when first used.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
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
for (const [file, output] of Object.entries(result.metafile.outputs)) {
  // A CommonJS dependency bundled into ESM would need a `require` shim: refuse instead of shipping
  // a bundle that throws "Dynamic require ... is not supported" at start.
  if (readFileSync(file, 'utf8').includes('__require(')) {
    throw new Error(`${file}: a bundled dependency uses require()`);
  }
  // Every import left is a chunk of this bundle or a Node built-in: a bare specifier would need a
  // dependency at run time.
  for (const { path, external } of output.imports) {
    if (external && !path.startsWith('node:') && !NODE_BUILTINS.has(path)) {
      throw new Error(`${file}: imports ${path}; everything but Node's built-ins must be bundled`);
    }
  }
}
process.stdout.write(`bundled ${Object.keys(result.metafile.outputs).join(', ')}\n`);
