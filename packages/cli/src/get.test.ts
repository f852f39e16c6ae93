// `secrets-engine get` against `secrets-engine serve` with the fixture plugin (both the built
// binary): the table, --reveal, --json, and every documented exit code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, runCli, type ServedEngine, serve, useCli } from './__tests__/cli.js';

useCli();

let engine: ServedEngine;
beforeAll(async () => {
  engine = await serve();
});
afterAll(async () => {
  const r = await engine.stop();
  expect(r.code).toBe(0);
  // Values were revealed to the clients above; the engine's log never shows them.
  for (const value of ['s3cr3t-db-pw', 'api-key-value', 'hello world']) expect(r.stderr).not.toContain(value);
  expect(r.stderr).toMatch(
    /^\d\d:\d\d:\d\d\.\d{3} INFO {2}request for fixture\/\*\* plugin=fixture stream=output$/m,
  );
});

const get = (...args: string[]) => runCli(['get', ...args, '--socket', engine.socket]);

describe.concurrent('get', () => {
  it('prints the matching secrets as a table, without values', async () => {
    const r = await get('fixture/**');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      [
        'ID                    PROVIDER   VERSION   EXPIRES',
        'fixture/api-key       fixture    -         -',
        'fixture/db/password   fixture    v3        2030-01-01T00:00:00.000Z',
        'fixture/greeting      fixture    -         -',
        '',
      ].join('\n'),
    );
    expect(r.stdout).not.toContain('s3cr3t');
  });

  it('--reveal adds a VALUE column', async () => {
    const r = await get('fixture/*', '--reveal');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'ID                 PROVIDER   VERSION   EXPIRES   VALUE',
        'fixture/api-key    fixture    -         -         api-key-value',
        'fixture/greeting   fixture    -         -         hello world',
        '',
      ].join('\n'),
    );
  });

  it('--json prints every field, times as ISO or null, and no value', async () => {
    const r = await get('fixture/**', '--json');
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(list.map((e) => e.id)).toEqual(['fixture/api-key', 'fixture/db/password', 'fixture/greeting']);
    expect(list[1]).toEqual({
      id: 'fixture/db/password',
      provider: 'fixture',
      version: 'v3',
      createdAt: '2024-01-02T03:04:05.000Z',
      resolvedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      expiresAt: '2030-01-01T00:00:00.000Z',
      metadata: { owner: 'db-team' },
    });
    expect(list[0]).toMatchObject({ createdAt: null, expiresAt: null, version: '', metadata: {} });
    for (const e of list) expect(e).not.toHaveProperty('value');
    expect(r.stdout).not.toContain('api-key-value');
  });

  it('--json --reveal adds the value field', async () => {
    const r = await get('fixture/db/password', '--json', '--reveal');
    expect(r.code).toBe(0);
    const [e] = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(e).toMatchObject({ id: 'fixture/db/password', value: 's3cr3t-db-pw' });
  });

  it('takes se://PATTERN and se://ID as well', async () => {
    const [id, pattern] = await Promise.all([get('se://fixture/api-key'), get('se://fixture/*', '--json')]);
    expect(id.code).toBe(0);
    expect(id.stdout).toBe(
      ['ID                PROVIDER   VERSION   EXPIRES', 'fixture/api-key   fixture    -         -', ''].join(
        '\n',
      ),
    );
    expect(pattern.code).toBe(0);
    expect((JSON.parse(pattern.stdout) as { id: string }[]).map((e) => e.id)).toEqual([
      'fixture/api-key',
      'fixture/greeting',
    ]);
    const none = await get('se://fixture/nothing');
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('secrets-engine: no secret matches "se://fixture/nothing"\n');
    const bad = await runCli(['get', 'se://fixture/*x', '--socket', '/nonexistent/se-cli/engine.sock']);
    expect(bad.code).toBe(4);
    expect(bad.stderr).toContain(`invalid pattern "fixture/*x": component 2 mixes '*' with other characters`);
  });

  it('exits 2 when nothing matches', async () => {
    for (const pattern of ['fixture/nothing/here', 'elsewhere/**']) {
      const r = await get(pattern);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`secrets-engine: no secret matches "${pattern}"\n`);
    }
  });

  it('exits 4 for an invalid pattern, before any I/O', async () => {
    const r = await runCli(['get', 'fixture/*x', '--socket', '/nonexistent/se-cli/engine.sock']);
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(
      `secrets-engine: invalid pattern "fixture/*x": component 2 mixes '*' with other characters\n`,
    );
  });

  it('exits 3 when the engine is not available, naming the socket', async () => {
    const socket = `${engine.dir}/nobody-here.sock`;
    const r = await runCli(['get', 'fixture/**', '--socket', socket]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `secrets-engine: secrets engine is not available at ${socket}: no such socket (is the engine running?)\n`,
    );
  });

  it('uses $SECRETS_ENGINE_SOCKET without --socket', async () => {
    const ok = await runCli(['get', 'fixture/api-key'], { env: { SECRETS_ENGINE_SOCKET: engine.socket } });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('fixture/api-key');
    const missing = await runCli(['get', 'fixture/api-key']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('se-cli-no-engine/engine.sock');
    expectNoStack(missing.stderr);
  });
});

describe('get: exact answers and failed plugins', () => {
  let odd: ServedEngine;
  beforeAll(async () => {
    odd = await serve({
      plugins: ['fixture', 'liar', 'broken'],
      pluginEnv: { FIXTURE_LIAR: 'liar', FIXTURE_FAIL: 'broken' },
    });
  });
  afterAll(async () => {
    const r = await odd.stop();
    expect(r.code).toBe(0);
  });
  const oddGet = (...args: string[]) => runCli(['get', ...args, '--socket', odd.socket]);

  it('a partial answer: the found secrets, a warning naming the failed plugin, exit 5', async () => {
    const r = await oddGet('fixture/api-key');
    expect(r.code).toBe(5);
    // The liar's answer to everything keeps only the exact match; the other IDs are dropped.
    expect(r.stdout).toBe(
      [
        'ID                PROVIDER   VERSION   EXPIRES',
        'fixture/api-key   fixture    -         -',
        'fixture/api-key   liar       -         -',
        '',
      ].join('\n'),
    );
    expect(r.stderr).toBe(
      'secrets-engine: warning: plugin "broken" failed (internal: failed to get secret "fixture/api-key": backend sealed)\n',
    );
  });

  it('nothing found and a plugin failed: exit 5 naming it, never "no secret matches"', async () => {
    const r = await oddGet('fixture/nothing');
    expect(r.code).toBe(5);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('plugin "broken" failed (internal:');
    expect(r.stderr).not.toContain('no secret matches');
    expectNoStack(r.stderr);
  });
});
