// The slow-provider notice of get, read and inject, on a real pseudo-terminal: a plugin that
// answers only when the test opens its gate (a file), so nothing here depends on timing. The
// notice names the plugins the request was sent to, and is erased before the answer is printed;
// on a pipe there is none.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PluginStatus } from '@secrets-engine/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  noPty,
  runCli,
  type ServedEngine,
  screen,
  serve,
  startCli,
  startCliOnPty,
  tempDir,
  useCli,
} from './__tests__/cli.js';
import { noticeText, pluginsAsked } from './wait-notice.js';

useCli();

describe('which plugins the notice names', () => {
  const plugin = (
    name: string,
    pattern: string | undefined,
    more: Partial<PluginStatus> = {},
  ): PluginStatus => ({
    name,
    version: 'v1',
    pattern: pattern as PluginStatus['pattern'],
    kind: 'secrets-provider',
    disabled: false,
    external: true,
    configurable: true,
    runStatus: 'running',
    statusMessage: '',
    ...more,
  });
  const plugins = [
    plugin('vault', 'vault/**'),
    plugin('keychain', '**'),
    plugin('myapp', 'myapp/**'),
    plugin('off', 'myapp/**', { disabled: true }),
    plugin('down', 'myapp/**', { runStatus: 'crashed' }),
    plugin('unregistered', undefined, { version: '' }),
    plugin('acl', undefined, { kind: 'access-control' }),
  ];

  it('the enabled, running providers whose pattern overlaps the request, as the engine picks them', () => {
    expect(pluginsAsked(plugins, ['myapp/db/password'])).toEqual(['keychain', 'myapp']);
    expect(pluginsAsked(plugins, ['vault/*'])).toEqual(['keychain', 'vault']);
    expect(pluginsAsked(plugins, ['**'])).toEqual(['keychain', 'myapp', 'vault']);
    expect(pluginsAsked(plugins, ['elsewhere/x', 'vault/x'])).toEqual(['keychain', 'vault']);
  });

  it('one line that fits the terminal, without names when none are known', () => {
    expect(noticeText('fixture/**', ['slow'], 80)).toBe(
      'secrets-engine: waiting for fixture/** from plugin "slow"…',
    );
    expect(noticeText('x', ['a', 'b'], 80)).toBe('secrets-engine: waiting for x from plugins "a", "b"…');
    expect(noticeText('x/**', undefined, 80)).toBe('secrets-engine: waiting for the engine to answer x/**…');
    const long = noticeText(
      'x',
      Array.from({ length: 40 }, (_, i) => `plugin-${i}`),
      60,
    );
    expect(long).toHaveLength(59);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe.skipIf(noPty !== undefined)('the notice on a terminal (a real pseudo-terminal)', () => {
  let engine: ServedEngine;
  let gate: string;
  beforeAll(async () => {
    gate = join(tempDir(), 'gate');
    engine = await serve({
      plugins: ['fixture', 'slow', 'idle'],
      pluginEnv: { FIXTURE_GATED: 'slow', FIXTURE_GATE: gate },
    });
    // A disabled plugin is not asked, so it is not named.
    expect((await runCli(['plugins', 'disable', 'idle', '--socket', engine.socket])).code).toBe(0);
  });
  afterEach(() => rmSync(gate, { force: true }));
  afterAll(async () => {
    writeFileSync(gate, '');
    expect((await engine.stop()).code).toBe(0);
  });

  const NOTICE = 'secrets-engine: waiting for fixture/api-key from plugins "fixture", "slow"…';

  it('get: names the plugins asked while it waits, then erases the line before the table', async () => {
    // The same request on a pipe, started first: it waits at least as long and must say nothing.
    const piped = startCli(['get', 'fixture/api-key', '--socket', engine.socket]);
    const proc = startCliOnPty(['get', 'se://fixture/api-key', '--socket', engine.socket]);
    await proc.waitFor(/waiting for fixture\/api-key from plugins/);
    writeFileSync(gate, '');
    const r = await proc.exited;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${NOTICE}\r\x1b[K`);
    const shown = screen(r.stdout);
    expect(shown.join('\n')).not.toContain('waiting');
    expect(shown).toEqual([
      'ID                PROVIDER   VERSION   EXPIRES',
      'fixture/api-key   fixture    -         -',
      'fixture/api-key   slow       -         -',
    ]);
    const p = await piped.exited;
    expect(p.code).toBe(0);
    expect(p.stderr).toBe('');
    expect(p.stdout).toContain('fixture/api-key   slow');
  });

  it('read with stdout to a file ($(…)): the notice on the terminal, the value exact in the file', async () => {
    const file = join(tempDir(), 'value');
    const proc = startCliOnPty(['read', 'se://fixture/api-key', '--socket', engine.socket], {
      stdoutFile: file,
      columns: 120,
    });
    await proc.waitFor(/waiting for se:\/\/fixture\/api-key from plugins "fixture", "slow"…/);
    writeFileSync(gate, '');
    const r = await proc.exited;
    expect(r.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('api-key-value');
    expect(screen(r.stdout)).toEqual([]);
  });

  it('a notice wider than the terminal is cut to one line, so erasing it leaves nothing', async () => {
    const proc = startCliOnPty(['get', 'fixture/api-key', '--socket', engine.socket], { columns: 40 });
    const [notice] = await proc.waitFor(/secrets-engine: waiting[^\r\n]*…/);
    expect(notice.length).toBeLessThan(40);
    writeFileSync(gate, '');
    const r = await proc.exited;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${notice}\r\x1b[K`);
    expect(screen(r.stdout)[0]).toBe('ID                PROVIDER   VERSION   EXPIRES');
  });

  it('inject: one notice for all its references', async () => {
    const dir = tempDir();
    const tpl = join(dir, 't');
    writeFileSync(tpl, '{{ se://fixture/api-key }} {{ se://fixture/greeting }}');
    const out = join(dir, 'out');
    const proc = startCliOnPty(['inject', '-i', tpl, '-o', out, '--socket', engine.socket]);
    await proc.waitFor(/waiting for 2 secrets from plugins "fixture", "slow"…/);
    writeFileSync(gate, '');
    const r = await proc.exited;
    expect(r.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('api-key-value hello world');
    expect(screen(r.stdout)).toEqual([]);
  });
});

describe.skipIf(noPty !== undefined)('the notice when the engine will not list its plugins', () => {
  let engine: ServedEngine;
  let gate: string;
  beforeAll(async () => {
    const dir = tempDir();
    gate = join(dir, 'gate');
    const rules = join(dir, 'access.json');
    // This uid may read fixture/** and nothing else: no plugin listing.
    writeFileSync(
      rules,
      JSON.stringify({ rules: [{ uid: process.getuid?.() ?? 0, pattern: 'fixture/**' }] }),
    );
    engine = await serve({
      plugins: ['slow'],
      pluginEnv: { FIXTURE_GATED: 'slow', FIXTURE_GATE: gate },
      args: ['--access', rules],
    });
  });
  afterAll(async () => {
    writeFileSync(gate, '');
    expect((await engine.stop()).code).toBe(0);
  });

  it('says it waits for the engine, without names, and still erases the line', async () => {
    const proc = startCliOnPty(['read', 'se://fixture/greeting', '--newline', '--socket', engine.socket]);
    await proc.waitFor(/secrets-engine: waiting for the engine to answer se:\/\/fixture\/greeting…/);
    writeFileSync(gate, '');
    const r = await proc.exited;
    expect(r.code).toBe(0);
    expect(screen(r.stdout)).toEqual(['hello world']);
  });
});

if (noPty !== undefined) {
  describe('the notice on a terminal', () => {
    it('cannot run here', (ctx) => {
      ctx.skip(noPty);
    });
  });
}
