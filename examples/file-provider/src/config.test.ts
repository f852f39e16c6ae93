import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fp-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('loadConfig', () => {
  it('1. $SECRETS_FILE wins (relative to cwd), pattern from $SECRETS_FILE_PATTERN or the default', () => {
    writeFileSync(join(dir, 'file-provider.json'), JSON.stringify({ file: '/elsewhere.json' }));
    const exe = join(dir, 'file-provider');
    expect(loadConfig({ env: { SECRETS_FILE: 'a.env' }, executable: exe, cwd: '/srv' })).toEqual({
      file: '/srv/a.env',
      pattern: 'file/**',
      source: '$SECRETS_FILE',
    });
    expect(
      loadConfig({ env: { SECRETS_FILE: '/a.json', SECRETS_FILE_PATTERN: 'team/**' }, executable: exe })
        .pattern,
    ).toBe('team/**');
  });

  it('2. <executable-name>.json beside the executable (the symlink, not its target); "file" relative to it', () => {
    const plugins = join(dir, 'plugins');
    mkdirSync(plugins);
    const target = join(dir, 'file-provider.mjs');
    writeFileSync(target, '');
    chmodSync(target, 0o755);
    symlinkSync(target, join(plugins, 'home-secrets'));
    writeFileSync(
      join(plugins, 'home-secrets.json'),
      JSON.stringify({ file: 'home.env', pattern: 'home/**' }),
    );
    expect(loadConfig({ env: {}, executable: join(plugins, 'home-secrets') })).toEqual({
      file: join(plugins, 'home.env'),
      pattern: 'home/**',
      source: join(plugins, 'home-secrets.json'),
    });
    // $SECRETS_FILE_PATTERN still overrides the pattern.
    expect(
      loadConfig({ env: { SECRETS_FILE_PATTERN: 'x/**' }, executable: join(plugins, 'home-secrets') })
        .pattern,
    ).toBe('x/**');
  });

  it('3. $XDG_CONFIG_HOME/secrets-engine/<name>.json, else ~/.config/secrets-engine/<name>.json', () => {
    const xdg = join(dir, 'xdg', 'secrets-engine');
    mkdirSync(xdg, { recursive: true });
    writeFileSync(join(xdg, 'file-provider.json'), JSON.stringify({ file: '/s.json' }));
    const exe = join(dir, 'bin', 'file-provider.mjs');
    expect(loadConfig({ env: { XDG_CONFIG_HOME: join(dir, 'xdg') }, executable: exe })).toMatchObject({
      file: '/s.json',
      pattern: 'file/**',
      source: join(xdg, 'file-provider.json'),
    });
    const home = join(dir, 'home', '.config', 'secrets-engine');
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, 'file-provider.json'), JSON.stringify({ file: '/h.json' }));
    expect(loadConfig({ env: { HOME: join(dir, 'home') }, executable: exe }).file).toBe('/h.json');
  });

  it('no configuration: a ConfigError that says what to set and where it looked', () => {
    const exe = join(dir, 'file-provider');
    const err = (() => {
      try {
        loadConfig({ env: { HOME: dir }, executable: exe });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('$SECRETS_FILE');
    expect((err as Error).message).toContain(`${exe}.json`);
    expect((err as Error).message).toContain(join(dir, '.config', 'secrets-engine', 'file-provider.json'));
  });

  it('a config file that exists must be valid: JSON, known fields, a pattern', () => {
    const exe = join(dir, 'fp');
    const write = (text: string) => writeFileSync(join(dir, 'fp.json'), text);
    write('{"file": "x", oops}');
    expect(() => loadConfig({ env: {}, executable: exe })).toThrow(/fp\.json: not valid JSON$/);
    write(JSON.stringify({ file: 'x', patern: 'a/**' }));
    expect(() => loadConfig({ env: {}, executable: exe })).toThrow(/unknown field\(s\) "patern"/);
    write(JSON.stringify({ pattern: 'a/**' }));
    expect(() => loadConfig({ env: {}, executable: exe })).toThrow(/"file" must be a path/);
    write(JSON.stringify({ file: 'x', pattern: 'a/**b' }));
    expect(() => loadConfig({ env: {}, executable: exe })).toThrow(ConfigError);
    expect(() =>
      loadConfig({ env: { SECRETS_FILE: 'x', SECRETS_FILE_PATTERN: '/' }, executable: exe }),
    ).toThrow(/invalid pattern/);
  });
});
