// Start-up (issue 16 item 5): `--help`, `version`, `get` and `read` never load the engine runtime.
// Proof by absence: the bundled CLI copied to a folder with no node_modules beside it (so
// `@secrets-engine/runtime`, the bundle's one external import, cannot be resolved) still runs these
// commands against a real engine, while a command that does need the runtime cannot start there.
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_DIR, runCli, type ServedEngine, serve, tempDir, useCli } from './__tests__/cli.js';

useCli();

let engine: ServedEngine;
let bin: string;
beforeAll(async () => {
  engine = await serve();
  const dir = tempDir('se-cli-alone-');
  cpSync(join(PACKAGE_DIR, 'bundle'), join(dir, 'bundle'), { recursive: true });
  bin = join(dir, 'bundle', 'bin.js');
});
afterAll(async () => {
  expect((await engine.stop()).code).toBe(0);
});

describe('commands that never load the runtime', () => {
  it.each([
    [['--help'], /^secrets-engine: run a secrets engine/],
    [['version', '--socket', '<socket>'], /^secrets-engine CLI \S+\nengine v\S+ at /],
    [['get', 'fixture/**', '--socket', '<socket>'], /^ID +PROVIDER/],
    [['read', 'se://fixture/api-key', '--socket', '<socket>'], /^api-key-value$/],
  ])('%j runs without it', async (args, out) => {
    const r = await runCli(
      args.map((a) => (a === '<socket>' ? engine.socket : a)),
      { bin },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(out);
  });
  it('while serve, which needs it, cannot start there', async () => {
    const r = await runCli(['serve', '--socket', join(engine.dir, 'alone.sock')], { bin });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/@secrets-engine\/runtime/);
  });
});
