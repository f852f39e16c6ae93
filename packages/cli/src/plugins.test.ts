// `secrets-engine plugins` against `secrets-engine serve`: a launched plugin (the fixture in the
// plugins folder) and an external one (the same fixture started by hand): ls, --json,
// disable/enable and their effect on get, unknown names, an unavailable engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliProcess,
  runCli,
  type ServedEngine,
  serve,
  startExternalPlugin,
  useCli,
  waitFor,
} from './__tests__/cli.js';

useCli();

let engine: ServedEngine;
let external: CliProcess;
beforeAll(async () => {
  engine = await serve();
  external = startExternalPlugin(engine.socket, 'byhand', engine.pidDir);
  await waitFor('the external plugin to register', () => /plugin=byhand/.test(engine.proc.stderr()), {
    timeoutMs: 60_000,
  });
});
afterAll(async () => {
  const r = await engine.stop();
  expect(r.code).toBe(0);
  // The engine shut the external plugin down too.
  expect((await external.exited).code).toBe(0);
});

const cli = (...args: string[]) => runCli([...args, '--socket', engine.socket]);

describe('plugins', () => {
  it('ls (the default) prints NAME, VERSION, PATTERN, KIND, STATUS, MESSAGE', async () => {
    const [ls, bare] = await Promise.all([cli('plugins', 'ls'), cli('plugins')]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toBe(
      [
        'NAME      VERSION   PATTERN      KIND       STATUS    MESSAGE',
        'byhand    v1.2.3    fixture/**   external   running',
        'fixture   v1.2.3    fixture/**   launched   running',
        '',
      ].join('\n'),
    );
    expect(bare.stdout).toBe(ls.stdout);
  });

  it('ls --json', async () => {
    const r = await cli('plugins', 'ls', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      {
        name: 'byhand',
        version: 'v1.2.3',
        pattern: 'fixture/**',
        kind: 'external',
        status: 'running',
        disabled: false,
        runStatus: 'running',
        message: '',
      },
      {
        name: 'fixture',
        version: 'v1.2.3',
        pattern: 'fixture/**',
        kind: 'launched',
        status: 'running',
        disabled: false,
        runStatus: 'running',
        message: '',
      },
    ]);
  });

  it('disable stops a plugin from answering, enable brings it back', { timeout: 120_000 }, async () => {
    // A retry starts from both enabled, whatever an interrupted attempt left.
    for (const name of ['fixture', 'byhand']) expect((await cli('plugins', 'enable', name)).code).toBe(0);
    const providers = async () => {
      const r = await cli('get', 'fixture/api-key', '--json');
      return r.code === 0 ? (JSON.parse(r.stdout) as { provider: string }[]).map((e) => e.provider) : r.code;
    };
    expect(await providers()).toEqual(['byhand', 'fixture']);

    const disabled = await cli('plugins', 'disable', 'fixture');
    expect(disabled.code).toBe(0);
    // Also recorded in the configuration file (this process's own XDG_CONFIG_HOME: see cli.ts).
    expect(disabled.stdout).toMatch(
      /^plugin "fixture" disabled\n"fixture" added to disabledPlugins in \/.*\/secrets-engine\/config\.json \(created\)\n$/,
    );
    const ls = await cli('plugins');
    expect(ls.stdout).toMatch(/^fixture {3}v1\.2\.3 {4}fixture\/\*\* {3}launched {3}disabled {3}disabled$/m);
    expect(await providers()).toEqual(['byhand']);

    const both = await cli('plugins', 'disable', 'byhand', '--json');
    expect(both.code).toBe(0);
    expect(JSON.parse(both.stdout)).toMatchObject({ name: 'byhand', kind: 'external', status: 'disabled' });
    expect(await providers()).toBe(2); // nothing answers: not found

    const enabled = await cli('plugins', 'enable', 'fixture', '--json');
    expect(enabled.code).toBe(0);
    expect(JSON.parse(enabled.stdout)).toMatchObject({ name: 'fixture', status: 'running', disabled: false });
    expect((await cli('plugins', 'enable', 'byhand', '--no-persist')).stdout).toBe(
      'plugin "byhand" enabled\n',
    );
    expect(await providers()).toEqual(['byhand', 'fixture']);
  });

  it.each(['enable', 'disable'])('%s --no-persist of an unknown plugin exits 2', async (sub) => {
    const r = await cli('plugins', sub, 'nosuch', '--no-persist');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('secrets-engine: plugin "nosuch" not found\n');
  });

  it('enable of a plugin neither the engine nor the configuration file has exits 2', async () => {
    const r = await cli('plugins', 'enable', 'nosuch');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^secrets-engine: plugin "nosuch" not found, and not in \/.*\/config\.json's disabledPlugins\n$/,
    );
  });

  it('exits 3 when the engine is not available', async () => {
    const socket = `${engine.dir}/nobody-here.sock`;
    const r = await runCli(['plugins', '--socket', socket]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      `secrets-engine: secrets engine is not available at ${socket}: no such socket (is the engine running?)\n`,
    );
  });
});
