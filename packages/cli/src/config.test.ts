// The configuration file's reader (config.ts) and its JSON parser with positions (json-source.ts):
// every kind of error names FILE:LINE:COL and the key; updateDisabledPlugins rewrites the file
// atomically, 0600, keys in their order. serve-config.test.ts runs the same through the binary.
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CONFIG_KEYS,
  ConfigFileError,
  parseConfig,
  readConfigFile,
  updateDisabledPlugins,
} from './config.js';
import { JsonSyntaxError, parseJson, stringifyJson, toValue } from './json-source.js';

const dir = mkdtempSync(join(tmpdir(), 'se-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FILE = join(dir, 'config.json');

function error(text: string): ConfigFileError {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigFileError);
    return err as ConfigFileError;
  }
  throw new Error(`no error for ${text}`);
}

describe('parseJson', () => {
  it('parses what JSON.parse parses, to the same value', () => {
    for (const text of [
      '{"a": [1, -2.5e3, true, false, null, "x\\n\\u00e9\\ud83d\\ude00"], "b": {}}',
      '  []  ',
      '"\\"\\\\\\/\\b\\f\\r\\t"',
      '0',
      '\ufeff{"bom": 1}',
    ]) {
      expect(toValue(parseJson(text))).toEqual(JSON.parse(text.replace(/^\ufeff/, '')));
    }
  });

  it('keeps positions of keys and values (1-based lines and columns)', () => {
    const root = parseJson('{\n  "a": 1,\n\t"bb": [ "x" ]\n}');
    expect(root.kind).toBe('object');
    if (root.kind !== 'object') return;
    expect(
      root.entries.map((e) => [e.key, e.keyAt.line, e.keyAt.column, e.value.at.line, e.value.at.column]),
    ).toEqual([
      ['a', 2, 3, 2, 8],
      ['bb', 3, 2, 3, 8],
    ]);
  });

  it.each([
    ['{"a": 1,}', 1, 9, 'trailing comma before "}"'],
    ['{"a" 1}', 1, 6, 'expected ":" after the key "a", found "1"'],
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3, 'expected "," or "}", found "\\""'],
    ["{'a': 1}", 1, 2, 'expected a key in double quotes, found "\'"'],
    ['{"a": 01}', 1, 8, 'expected "," or "}", found "1"'],
    ['{"a": "x\ny"}', 1, 9, 'the control character U+000a must be escaped in a string'],
    ['{"a": "\\x"}', 1, 8, 'invalid escape "\\\\x" in a string'],
    ['{"a": 1} x', 1, 10, 'unexpected "x" after the value'],
    ['{"a": 1, "a": 2}', 1, 10, 'duplicate key "a"'],
    ['{\n  // no\n}', 2, 3, 'comments are not JSON'],
    ['', 1, 1, 'expected a value, found the end of the file'],
    ['{"a": "open', 1, 7, 'unterminated string'],
    ['[1e999]', 1, 2, 'the number 1e999 is too large'],
    ['{"a": tru}', 1, 7, 'expected a value, found "t"'],
  ])('%j: %i:%i %s', (text, line, column, message) => {
    let err: unknown;
    try {
      parseJson(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JsonSyntaxError);
    expect([
      (err as JsonSyntaxError).at.line,
      (err as JsonSyntaxError).at.column,
      (err as Error).message,
    ]).toEqual([line, column, message]);
  });

  it('refuses nesting deeper than 64 levels instead of exhausting the stack', () => {
    expect(() => parseJson(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)).toThrow(/nested deeper than 64/);
  });

  it('writes keys back in their order, numeric-looking ones too', () => {
    const text = '{"z": 1, "10": {"b": [1, "x"], "2": []}, "a": [{"k": null}]}';
    const out = stringifyJson(parseJson(text));
    expect(out).toBe(
      '{\n  "z": 1,\n  "10": {\n    "b": [1, "x"],\n    "2": []\n  },\n  "a": [\n    {\n      "k": null\n    }\n  ]\n}\n',
    );
    expect(Object.keys(JSON.parse(out))).toEqual(['10', 'z', 'a']); // what a JS object would do
  });
});

describe('parseConfig', () => {
  it('reads every key, paths relative to the file folder', () => {
    const { config } = parseConfig(
      JSON.stringify({
        socket: 'run/engine.sock',
        pluginsDir: '/abs/plugins',
        stateDir: 'state',
        launchPlugins: false,
        externalPlugins: true,
        requestTimeoutMs: 0,
        registrationTimeoutMs: 2000,
        logLevel: 'debug',
        pluginEnv: { VAULT_ADDR: 'https://v' },
        access: 'access.json',
        auditLog: '../audit.log',
        disabledPlugins: ['vault', 'vault', 'x'],
        cache: { vault: { ttlMs: 1000, maxEntries: 10, maxBytes: 4096 } },
        builtins: {
          file: { path: 's.json', format: 'json', pattern: 'f/**', name: 'files' },
          env: true,
          keychain: false,
        },
      }),
      FILE,
    );
    expect(config).toEqual({
      socket: join(dir, 'run/engine.sock'),
      pluginsDir: '/abs/plugins',
      stateDir: join(dir, 'state'),
      launchPlugins: false,
      externalPlugins: true,
      requestTimeoutMs: 0,
      registrationTimeoutMs: 2000,
      logLevel: 'debug',
      pluginEnv: { VAULT_ADDR: 'https://v' },
      access: join(dir, 'access.json'),
      auditLog: join(dir, '..', 'audit.log'),
      disabledPlugins: ['vault', 'x'],
      cache: { vault: { ttlMs: 1000, maxEntries: 10, maxBytes: 4096 } },
      builtins: {
        file: { path: join(dir, 's.json'), format: 'json', pattern: 'f/**', name: 'files' },
        env: {},
      },
    });
    expect(parseConfig('{"socket": "@abstract"}', FILE).config.socket).toBe('@abstract');
    expect(parseConfig('{}', FILE).config).toEqual({});
  });

  it.each([
    ['{\n  "builtins": {"file": {"path": 3}}\n}', '2:33: key "builtins.file.path": must be a string, got 3'],
    [
      '{"sockt": "x"}',
      '1:2: key "sockt": unknown key (allowed: socket, pluginsDir, stateDir, launchPlugins, externalPlugins, requestTimeoutMs, registrationTimeoutMs, logLevel, pluginEnv, access, auditLog, disabledPlugins, cache, builtins)',
    ],
    [
      '{"builtins": {"vault": true}}',
      '1:15: key "builtins.vault": unknown key (allowed in "builtins": file, env, keychain)',
    ],
    [
      '{"builtins": {"env": {"prefx": "A_"}}}',
      '1:23: key "builtins.env.prefx": unknown key (allowed in "builtins.env": prefix, pattern, name)',
    ],
    [
      '{"builtins": {"file": true}}',
      '1:23: key "builtins.file": true is not enough: give {"path": FILE} (the secrets file or folder; it has no default)',
    ],
    ['{"builtins": {"file": {}}}', '1:23: key "builtins.file": needs "path" (the secrets file or folder)'],
    [
      '{"builtins": {"file": {"path": "a", "format": "yaml"}}}',
      '1:47: key "builtins.file.format": must be one of auto, json, env, dir, got "yaml"',
    ],
    [
      '{"builtins": {"env": {"pattern": "a/***"}}}',
      '1:34: key "builtins.env.pattern": must be a secret pattern (components separated by "/", "*" one, "**" any), got "a/***"',
    ],
    [
      '{"builtins": {"env": {"name": "x"}, "keychain": {"name": "x"}}}',
      '1:14: key "builtins.keychain": its name "x" is also the name of builtins.env; give one a "name"',
    ],
    ['{"builtins": {"env": 1}}', '1:22: key "builtins.env": must be true, false or an object, got 1'],
    ['{"requestTimeoutMs": -1}', '1:22: key "requestTimeoutMs": must be a whole number >= 0, got -1'],
    ['{"registrationTimeoutMs": 0}', '1:27: key "registrationTimeoutMs": must be a whole number >= 1, got 0'],
    ['{"requestTimeoutMs": "5"}', '1:22: key "requestTimeoutMs": must be a whole number >= 0, got "5"'],
    ['{"launchPlugins": "yes"}', '1:19: key "launchPlugins": must be true or false, got "yes"'],
    [
      '{"logLevel": "verbose"}',
      '1:14: key "logLevel": must be one of debug, info, warn, error, got "verbose"',
    ],
    [
      '{"pluginEnv": {"1X": "a"}}',
      '1:16: key "pluginEnv.1X": not a variable name (letters, digits and "_", not starting with a digit)',
    ],
    ['{"pluginEnv": {"X": 1}}', '1:21: key "pluginEnv.X": must be a string, got 1'],
    // A value meant for a plugin's environment is never quoted: it may be a token.
    [
      '{"pluginEnv": "TOKEN=hunter2"}',
      '1:15: key "pluginEnv": must be an object of variable names to strings, got a string',
    ],
    [
      '{"disabledPlugins": "vault"}',
      '1:21: key "disabledPlugins": must be an array of plugin names, got "vault"',
    ],
    ['{"disabledPlugins": ["ok", "a/b"]}', '1:28: key "disabledPlugins[1]": must be a plugin name'],
    ['{"cache": {"vault": {}}}', '1:21: key "cache.vault": needs "ttlMs" (how long answers are kept, in ms)'],
    [
      '{"cache": {"vault": {"ttlMs": 1.5}}}',
      '1:31: key "cache.vault.ttlMs": must be a whole number >= 1, got 1.5',
    ],
    [
      '{"cache": {"vault": {"ttl": 5}}}',
      '1:22: key "cache.vault.ttl": unknown key (allowed in "cache.vault": ttlMs, maxEntries, maxBytes)',
    ],
    ['{"socket": ""}', '1:12: key "socket": must be a non-empty string, got ""'],
    ['[]', '1:1: the configuration must be a JSON object, got an array'],
    ['{"a": 1,}', '1:9: not valid JSON: trailing comma before "}"'],
  ])('%s', (text, expected) => {
    const err = error(text);
    expect(err.message.startsWith(`${FILE}:${expected}`)).toBe(true);
    expect(err.message).not.toMatch(/\n/);
  });

  it('a missing file is an empty configuration only when not required', () => {
    const missing = join(dir, 'missing.json');
    expect(readConfigFile(missing, { required: false })).toEqual({
      file: undefined,
      config: {},
      positions: {},
    });
    expect(() => readConfigFile(missing, { required: true })).toThrow(`${missing}: no such file`);
    expect(() => readConfigFile(dir, { required: true })).toThrow(`${dir}: not a regular file`);
  });
});

describe('updateDisabledPlugins', () => {
  it('creates the file 0600 in a 0700 folder, adds and removes names, keeps the other keys in order', () => {
    const file = join(dir, 'new', 'deeper', 'config.json');
    expect(updateDisabledPlugins(file, 'vault', false)).toEqual({ changed: false, created: false });
    expect(updateDisabledPlugins(file, 'vault', true)).toEqual({ changed: true, created: true });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'new', 'deeper')).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ disabledPlugins: ['vault'] });
    expect(updateDisabledPlugins(file, 'vault', true)).toEqual({ changed: false, created: false });

    writeFileSync(
      file,
      '{"socket": "s", "disabledPlugins": ["a"], "cache": {"2": {"ttlMs": 5}, "1": {"ttlMs": 6}}}',
    );
    chmodSync(file, 0o644);
    updateDisabledPlugins(file, 'b', true);
    const text = readFileSync(file, 'utf8');
    expect(text).toBe(
      '{\n  "socket": "s",\n  "disabledPlugins": ["a", "b"],\n  "cache": {\n    "2": {\n      "ttlMs": 5\n    },\n    "1": {\n      "ttlMs": 6\n    }\n  }\n}\n',
    );
    expect(statSync(file).mode & 0o777).toBe(0o600);
    updateDisabledPlugins(file, 'a', false);
    expect(JSON.parse(readFileSync(file, 'utf8')).disabledPlugins).toEqual(['b']);
  });

  it('does not rewrite a file serve would refuse; follows a symbolic link to its target', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{\n  "disabledPlugins": ["a"],\n  "nope": 1\n}');
    expect(() => updateDisabledPlugins(file, 'b', true)).toThrow(`${file}:3:3: key "nope": unknown key`);
    expect(readFileSync(file, 'utf8')).toBe('{\n  "disabledPlugins": ["a"],\n  "nope": 1\n}');

    mkdirSync(join(dir, 'dotfiles'));
    const target = join(dir, 'dotfiles', 'config.json');
    writeFileSync(target, '{}');
    const link = join(dir, 'linked.json');
    symlinkSync(target, link);
    updateDisabledPlugins(link, 'x', true);
    expect(JSON.parse(readFileSync(target, 'utf8'))).toEqual({ disabledPlugins: ['x'] });
  });
});

describe('docs/configuration.md', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'configuration.md'), 'utf8');

  it('its example file is a valid configuration', () => {
    const example = /## Example\n\n```json\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const { config } = parseConfig(example!, join(dir, 'example', 'config.json'));
    expect(Object.keys(config).length).toBe(10);
    expect(config.builtins?.file?.path).toBe(join(dir, 'example', 'secrets.json'));
  });

  it('documents every key', () => {
    for (const key of CONFIG_KEYS) {
      expect(doc).toContain(`| \`${key}\` |`);
    }
  });
});
