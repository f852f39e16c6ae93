import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ep-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('1. $CREDENTIAL_HELPER: a bare name stays a name (PATH lookup), a path is resolved', () => {
  writeFileSync(join(dir, 'exec-provider.json'), JSON.stringify({ helper: 'other' }));
  const exe = join(dir, 'exec-provider');
  expect(loadConfig({ env: { CREDENTIAL_HELPER: 'docker-credential-pass' }, executable: exe })).toEqual({
    helper: 'docker-credential-pass',
    pattern: 'docker-credentials/**',
    timeoutMs: 30_000,
    source: '$CREDENTIAL_HELPER',
  });
  expect(loadConfig({ env: { CREDENTIAL_HELPER: './bin/h' }, executable: exe, cwd: '/srv' }).helper).toBe(
    '/srv/bin/h',
  );
});

it('2. <executable-name>.json beside the executable; a relative helper path is relative to it', () => {
  const plugins = join(dir, 'plugins');
  mkdirSync(plugins);
  writeFileSync(
    join(plugins, 'keychain.json'),
    JSON.stringify({ helper: 'helpers/docker-credential-op', pattern: 'op/**', timeoutMs: 60_000 }),
  );
  expect(loadConfig({ env: {}, executable: join(plugins, 'keychain') })).toEqual({
    helper: join(plugins, 'helpers', 'docker-credential-op'),
    pattern: 'op/**',
    timeoutMs: 60_000,
    source: join(plugins, 'keychain.json'),
  });
});

it('3. $XDG_CONFIG_HOME/secrets-engine/<name>.json; env overrides pattern and timeout', () => {
  const xdg = join(dir, 'xdg');
  mkdirSync(join(xdg, 'secrets-engine'), { recursive: true });
  writeFileSync(join(xdg, 'secrets-engine', 'exec-provider.json'), JSON.stringify({ helper: 'h' }));
  const env = {
    XDG_CONFIG_HOME: xdg,
    CREDENTIAL_HELPER_PATTERN: 'reg/**',
    CREDENTIAL_HELPER_TIMEOUT_MS: '5000',
  };
  expect(loadConfig({ env, executable: join(dir, 'bin', 'exec-provider.mjs') })).toEqual({
    helper: 'h',
    pattern: 'reg/**',
    timeoutMs: 5_000,
    source: join(xdg, 'secrets-engine', 'exec-provider.json'),
  });
});

it('missing or invalid configuration is a ConfigError', () => {
  const exe = join(dir, 'exec-provider');
  expect(() => loadConfig({ env: { HOME: dir }, executable: exe })).toThrow(
    /^no configuration: pass --helper, set \$CREDENTIAL_HELPER .* or write \{"helper": "docker-credential-\.\.\."\} to /,
  );
  const write = (v: unknown) => writeFileSync(join(dir, 'exec-provider.json'), JSON.stringify(v));
  write({ helper: 'h', timeout: 5 });
  expect(() => loadConfig({ env: {}, executable: exe })).toThrow(/unknown field\(s\) "timeout"/);
  write({ helper: '' });
  expect(() => loadConfig({ env: {}, executable: exe })).toThrow(ConfigError);
  write({ helper: 'h', timeoutMs: -1 });
  expect(() => loadConfig({ env: {}, executable: exe })).toThrow(/timeoutMs must be a positive/);
  expect(() =>
    loadConfig({ env: { CREDENTIAL_HELPER: 'h', CREDENTIAL_HELPER_TIMEOUT_MS: 'soon' }, executable: exe }),
  ).toThrow(/timeoutMs/);
  expect(() =>
    loadConfig({ env: { CREDENTIAL_HELPER: 'h', CREDENTIAL_HELPER_PATTERN: 'a//b' }, executable: exe }),
  ).toThrow(/invalid pattern/);
});

it('flags win over variables, variables over the config file, per setting', () => {
  writeFileSync(
    join(dir, 'exec-provider.json'),
    JSON.stringify({ helper: 'from-file', pattern: 'file/**', timeoutMs: 1_000 }),
  );
  const exe = join(dir, 'exec-provider');
  const env = { CREDENTIAL_HELPER_PATTERN: 'env/**' };
  expect(loadConfig({ env, executable: exe })).toEqual({
    helper: 'from-file',
    pattern: 'env/**',
    timeoutMs: 1_000,
    source: join(dir, 'exec-provider.json'),
  });
  expect(
    loadConfig({
      flags: { helper: './bin/h', pattern: 'flag/**', 'timeout-ms': '2000' },
      env: { ...env, CREDENTIAL_HELPER: 'from-env' },
      executable: exe,
      cwd: '/srv',
    }),
  ).toEqual({ helper: '/srv/bin/h', pattern: 'flag/**', timeoutMs: 2_000, source: '--helper' });
  expect(() => loadConfig({ flags: { 'timeout-ms': 'soon' }, env: {}, executable: exe })).toThrow(
    '--timeout-ms: timeoutMs must be a positive whole number of ms',
  );
});
