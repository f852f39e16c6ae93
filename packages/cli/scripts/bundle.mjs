// Bundles the built CLI (dist/bin.js and the commands it loads on demand) into bundle/, which is
// what the `secrets-engine` executable runs (issue 14): one file per command instead of the ~300
// ESM modules of protobuf-es, connect and our packages, which Node resolves and compiles one by
// one (`get` 4.4× a bare `node -e 0` unbundled). @secrets-engine/runtime stays an import from
// node_modules: it loads koffi, a native addon, relative to itself, and only `serve`, `run` and
// `plugins` need it. Run after tsc (`pnpm build`).
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist', 'bin.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // dotenv is CommonJS that requires Node builtins, which an ESM bundle cannot do: loaded from
  // node_modules by `run` only (one file).
  // @secrets-engine/plugin-keychain loads @napi-rs/keyring, a native addon, relative to itself:
  // from node_modules too, by `serve` only when the configuration enables it. plugin-file and
  // plugin-env are plain ESM and bundle (a chunk each, imported only when configured).
  external: ['@secrets-engine/runtime', 'dotenv', '@secrets-engine/plugin-keychain'],
  // Keep the shebang of bin.js; nothing else needs a banner.
  logLevel: 'warning',
  legalComments: 'none',
  chunkNames: 'chunks/[name]-[hash]',
  entryNames: '[name]',
});

// The manual page, from the same help texts as --help (src/manual.ts): the package's `man` entry.
const { renderManPage } = await import(join(root, 'dist', 'manual.js'));
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
writeFileSync(join(outdir, 'secrets-engine.1'), renderManPage(version));

// The executable starts as a shell script that runs `node -- bin.js ARGS` (issue 16 item 1):
// Node.js 20 takes a `--env-file` anywhere before a `--` on its command line as its own option, so
// `#!/usr/bin/env node` made `secrets-engine run --env-file F` read F into the CLI itself (its
// NODE_OPTIONS included). The second line is a no-op for sh (`:`), and for JavaScript a string
// statement and a comment. pnpm's bin shims read the shebang and run `sh bin.js`, which works too.
const bin = join(outdir, 'bin.js');
const code = readFileSync(bin, 'utf8');
const NODE_SHEBANG = '#!/usr/bin/env node\n';
if (!code.startsWith(NODE_SHEBANG))
  throw new Error(`${bin} does not start with ${JSON.stringify(NODE_SHEBANG)}`);
// `/usr/bin/env sh` rather than `/bin/sh`: the same shell, and the shebang form npm tooling
// (publint's bin check, cmd-shim) recognises as an executable script.
writeFileSync(bin, `#!/usr/bin/env sh\n':' //; exec node -- "$0" "$@"\n${code.slice(NODE_SHEBANG.length)}`);
chmodSync(bin, 0o755);
