// `serve --cache PLUGIN=MS` and `get/read --no-cache` (issue 15 item 6), the built binary against a
// real engine: the fixture plugin logs every request it gets, so the engine's log shows whether it
// was asked; the audit log says which answers came from the cache.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, runCli, type ServedEngine, serve, useCli, waitFor } from './__tests__/cli.js';

useCli();

let engine: ServedEngine;
beforeAll(async () => {
  engine = await serve({ args: ['--cache', 'fixture=600000'] });
});
afterAll(async () => {
  expect((await engine.stop()).code).toBe(0);
});

/** Requests the fixture plugin has logged for `pattern`. */
const asked = (pattern: string) =>
  engine.proc
    .stderr()
    .split('\n')
    .filter((l) => l.includes(`request for ${pattern} plugin=fixture`)).length;

describe('the answer cache from the command line', () => {
  it('a second get is answered from the cache; --no-cache asks the plugin', async () => {
    const get = (...args: string[]) =>
      runCli(['get', 'fixture/api-key', '--reveal', ...args, '--socket', engine.socket]);
    const first = await get();
    expect(first.code).toBe(0);
    await waitFor('the plugin to log the request', () => asked('fixture/api-key') === 1);
    const second = await get();
    expect(second.stdout).toBe(first.stdout);
    const fresh = await get('--no-cache');
    expect(fresh.stdout).toBe(first.stdout);
    await waitFor('the plugin to log the --no-cache request', () => asked('fixture/api-key') === 2);
    const read = await runCli(['read', 'se://fixture/api-key', '--no-cache', '--socket', engine.socket]);
    expect(read.stdout).toBe('api-key-value');
    await waitFor('the plugin to log the read', () => asked('fixture/api-key') === 3);
    const cachedRead = await runCli(['read', 'se://fixture/api-key', '--socket', engine.socket]);
    expect(cachedRead.stdout).toBe('api-key-value');
    // A last --no-cache request: once the plugin's line for it is in, the lines of every earlier
    // request are too (one plugin, one log, in order), so the count proves the cached ones never
    // reached the plugin.
    await runCli(['read', 'se://fixture/api-key', '--no-cache', '--socket', engine.socket]);
    await waitFor('the plugin to log the last request', () => asked('fixture/api-key') >= 4);
    expect(asked('fixture/api-key')).toBe(4);
  });

  it('a plugin that crashed and restarted is asked again: the cache went with its instance', async () => {
    const get = () => runCli(['get', 'fixture/greeting', '--reveal', '--socket', engine.socket]);
    const livePids = () => readdirSync(engine.pidDir).map(Number).filter(isAlive);
    const status = async () => {
      const r = await runCli(['plugins', '--json', '--socket', engine.socket]);
      return (JSON.parse(r.stdout) as { name: string; status: string }[]).find((p) => p.name === 'fixture')
        ?.status;
    };
    expect((await get()).code).toBe(0);
    await waitFor('the plugin to log the request', () => asked('fixture/greeting') === 1);
    expect((await get()).code).toBe(0);
    const before = livePids();
    expect(before).toHaveLength(1);
    process.kill(before[0]!, 'SIGKILL');
    await waitFor(
      'the plugin to be restarted',
      async () => livePids().some((pid) => pid !== before[0]) && (await status()) === 'running',
      { timeoutMs: 30_000 },
    );
    const again = await get();
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('hello world');
    // The fence of the test above: once the --no-cache line is in, every earlier one is.
    await runCli(['get', 'fixture/greeting', '--no-cache', '--socket', engine.socket]);
    await waitFor('the plugin to log the last request', () => asked('fixture/greeting') >= 3);
    expect(asked('fixture/greeting')).toBe(3);
  });

  it('a bad --cache is a usage error naming what is expected', async () => {
    for (const bad of ['fixture', 'fixture=0', 'fixture=1.5', '=100']) {
      const r = await runCli(['serve', '--socket', join(engine.dir, 'x.sock'), '--cache', bad]);
      expect(r.code).toBe(64);
      expect(r.stderr).toContain(
        `--cache expects PLUGIN=TTL_MS (a plugin name and a whole number of ms above 0), got ${JSON.stringify(bad)}`,
      );
    }
  });
});

describe('the audit log says "cache"', () => {
  it('lists the plugins answered from the cache under plugins.cached', async () => {
    // Its own audit log per attempt: a retry must not read an earlier attempt's records.
    const audit = join(mkdtempSync(join(engine.dir, 'audit-')), 'audit.jsonl');
    const other = await serve({ args: ['--cache', 'fixture=600000', '--audit-log', audit] });
    try {
      for (const extra of [[], [], ['--no-cache']]) {
        const r = await runCli(['get', 'fixture/greeting', ...extra, '--socket', other.socket]);
        expect(r.code).toBe(0);
      }
    } finally {
      expect((await other.stop()).code).toBe(0);
    }
    const records = readFileSync(audit, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { pattern?: string; plugins?: { cached?: string[] } })
      .filter((r) => r.pattern === 'fixture/greeting');
    expect(records.map((r) => r.plugins?.cached ?? null)).toEqual([null, ['fixture'], null]);
  });
});
