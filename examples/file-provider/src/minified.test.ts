// A plugin bundled and minified without `keepNames` (esbuild renames every class) still tells the
// SDK's errors apart: each error class sets its `name` literally, and the checks that plugins and
// the SDK rely on (instanceof, isNotFoundError) hold in the bundle.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'se-minified-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ERRORS = [
  'DialError',
  'LaunchConfigError',
  'TimeoutError',
  'UnsupportedPlatformError',
  'UpgradeError',
  'NotFoundError',
  'PluginConfigError',
  'PluginError',
  'RegistrationError',
];

it('error names and checks survive minification without keepNames', async () => {
  const entry = join(dir, 'entry.mjs');
  writeFileSync(
    entry,
    `import * as sdk from '@secrets-engine/plugin-sdk';
const out = {};
for (const name of ${JSON.stringify(ERRORS)}) {
  const Class = sdk[name];
  const err = new Class('m', { path: '/p', code: 'not_found' });
  out[name] = { name: err.name, instance: err instanceof Class, error: err instanceof Error };
}
out.notFound = sdk.isNotFoundError(new sdk.NotFoundError('x'));
out.notNotFound = sdk.isNotFoundError(new sdk.PluginError('x'));
console.log(JSON.stringify(out));
`,
  );
  const outfile = join(dir, 'bundle.mjs');
  await build({
    entryPoints: [entry],
    absWorkingDir: process.cwd(),
    nodePaths: [join(process.cwd(), 'node_modules')],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  const result = JSON.parse(execFileSync(process.execPath, [outfile], { encoding: 'utf8' }));
  for (const name of ERRORS) expect(result[name], name).toEqual({ name, instance: true, error: true });
  expect(result.notFound).toBe(true);
  expect(result.notNotFound).toBe(false);
});
