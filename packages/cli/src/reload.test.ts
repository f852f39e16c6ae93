// `serve` on SIGHUP (issue 16 item 4): the plugins folder read again — a new plugin launched, a
// removed one stopped, the others untouched — while the engine keeps serving; SIGINT still stops it.
import { existsSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { FIXTURE, runCli, serve, useCli, waitFor } from './__tests__/cli.js';

useCli();

it('SIGHUP launches added plugins and stops removed ones; the engine serves on', async () => {
  const engine = await serve({ plugins: ['fixture'] });
  const plugins = async () => (await runCli(['plugins', '--socket', engine.socket])).stdout;
  symlinkSync(FIXTURE, join(engine.pluginsDir, 'late'));
  engine.proc.child.kill('SIGHUP');
  await waitFor('late to run', async () => /^late .* running/m.test(await plugins()), {
    intervalMs: 100,
    timeoutMs: 30_000,
  });
  expect(engine.proc.stderr()).toMatch(
    /INFO {2}plugins folder reloaded started=late stopped=- restarted=- unchanged=1$/m,
  );
  const both = await runCli(['get', 'fixture/api-key', '--socket', engine.socket, '--json']);
  expect((JSON.parse(both.stdout) as { provider: string }[]).map((e) => e.provider).sort()).toEqual([
    'fixture',
    'late',
  ]);

  rmSync(join(engine.pluginsDir, 'late'));
  engine.proc.child.kill('SIGHUP');
  await waitFor('late to be gone', async () => !/^late /m.test(await plugins()), {
    intervalMs: 100,
    timeoutMs: 30_000,
  });
  expect(engine.proc.stderr()).toMatch(
    /plugins folder reloaded started=- stopped=late restarted=- unchanged=1$/m,
  );
  expect(engine.proc.child.exitCode).toBeNull();
  const r = await engine.stop('SIGINT');
  expect(r.code).toBe(0);
  expect(existsSync(engine.socket)).toBe(false);
}, 90_000);
