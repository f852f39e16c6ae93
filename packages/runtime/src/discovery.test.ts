// Discovery of launched plugins (protocol.md §1.1) and the environment they get.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureLogger, tempDir } from './__tests__/helpers.js';
import { discoverPlugins, pluginEnvironment } from './discovery.js';

describe('pluginEnvironment', () => {
  it('keeps allowlisted names (a trailing * is a prefix), then the extra variables on top', () => {
    const env = { PATH: '/bin', PATHOLOGICAL: 'no', XDG_A: 'a', SECRET: 'no', HOME: '/h' };
    expect(pluginEnvironment(env, ['PATH', 'HOME', 'XDG_*'], { HOME: '/other', EXTRA: '1' })).toEqual({
      PATH: '/bin',
      XDG_A: 'a',
      HOME: '/other',
      EXTRA: '1',
    });
  });

  it('an empty allowlist passes only the extra variables', () => {
    expect(pluginEnvironment({ PATH: '/bin' }, [], { A: 'b' })).toEqual({ A: 'b' });
  });
});

describe('discoverPlugins', () => {
  it('finds executable files sorted by name, strips .exe, skips the rest (invalid names logged)', async () => {
    const dir = tempDir();
    const file = (name: string, mode: number) => {
      writeFileSync(join(dir, name), '#!/bin/sh\n');
      chmodSync(join(dir, name), mode);
    };
    file('zeta', 0o755);
    file('alpha.exe', 0o700);
    file('not-executable', 0o644);
    file('bad\tname', 0o755); // a control character: not a plugin name
    mkdirSync(join(dir, 'folder'));
    const logger = captureLogger();
    const found = await discoverPlugins(dir, logger);
    expect(found).toEqual([
      { name: 'alpha', path: join(dir, 'alpha.exe') },
      { name: 'zeta', path: join(dir, 'zeta') },
    ]);
    expect(logger.entries.map((r) => r.message)).toContain('skipping plugin with an invalid name');
  });

  it('a missing folder is no plugins', async () => {
    expect(await discoverPlugins(join(tempDir(), 'nope'), captureLogger())).toEqual([]);
  });
});
