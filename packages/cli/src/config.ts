// The configuration file of `serve` (issue 15 item 3; docs/configuration.md): JSON, read with
// positions (json-source.ts) so that every error names FILE:LINE:COL and the key, e.g.
// `config.json:4:13: key "builtins.file.path": must be a string, got 3`. Every key is optional;
// an unknown key is an error naming the allowed ones. Relative paths resolve against the file's
// folder. `plugins enable/disable` rewrite its `disabledPlugins` (updateDisabledPlugins), keeping
// the other keys in their order.
import * as fs from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isValidPattern, parsePluginName } from '@secrets-engine/secrets';
import { isAbstractSocketPath } from '@secrets-engine/secrets/internal';
import {
  type JsonNode,
  type JsonPosition,
  JsonSyntaxError,
  parseJson,
  stringifyJson,
} from './json-source.js';
import { isLogLevel, LOG_LEVELS, type LogLevel } from './logger.js';
import { writePrivateFile } from './private-file.js';

/** A configuration file that cannot be read or is not valid; the message starts with FILE:LINE:COL. */
export class ConfigFileError extends Error {
  static {
    ConfigFileError.prototype.name = 'ConfigFileError';
  }
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  /** The dotted key the error is about, when it is about one. */
  readonly key: string | undefined;
  constructor(
    file: string,
    message: string,
    options: { at?: JsonPosition; key?: string; cause?: unknown } = {},
  ) {
    const where = options.at === undefined ? file : `${file}:${options.at.line}:${options.at.column}`;
    super(
      `${where}: ${options.key === undefined ? '' : `key ${JSON.stringify(options.key)}: `}${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.file = file;
    this.line = options.at?.line;
    this.column = options.at?.column;
    this.key = options.key;
  }
}

export interface FileBuiltinConfig {
  path: string;
  format?: 'auto' | 'json' | 'env' | 'dir';
  pattern?: string;
  name?: string;
}
export interface EnvBuiltinConfig {
  prefix?: string;
  pattern?: string;
  name?: string;
}
export interface KeychainBuiltinConfig {
  service?: string;
  pattern?: string;
  name?: string;
}
export interface CacheConfig {
  ttlMs: number;
  maxEntries?: number;
  maxBytes?: number;
}

/** What a configuration file says, paths made absolute. Every key optional. */
export interface ServeConfig {
  socket?: string;
  pluginsDir?: string;
  stateDir?: string;
  launchPlugins?: boolean;
  externalPlugins?: boolean;
  requestTimeoutMs?: number;
  registrationTimeoutMs?: number;
  logLevel?: LogLevel;
  pluginEnv?: Record<string, string>;
  access?: string;
  auditLog?: string;
  disabledPlugins?: string[];
  cache?: Record<string, CacheConfig>;
  builtins?: {
    file?: FileBuiltinConfig;
    env?: EnvBuiltinConfig;
    keychain?: KeychainBuiltinConfig;
  };
}

export const CONFIG_KEYS = [
  'socket',
  'pluginsDir',
  'stateDir',
  'launchPlugins',
  'externalPlugins',
  'requestTimeoutMs',
  'registrationTimeoutMs',
  'logLevel',
  'pluginEnv',
  'access',
  'auditLog',
  'disabledPlugins',
  'cache',
  'builtins',
] as const satisfies readonly (keyof ServeConfig)[];

export type ConfigKey = (typeof CONFIG_KEYS)[number];

/** A configuration read from a file: the values, and where each top-level key was written. */
export interface LoadedConfig {
  /** The file read; undefined when there was none (a missing default file). */
  file: string | undefined;
  config: ServeConfig;
  /** Where each top-level key's value starts (for errors found later, e.g. a missing folder). */
  positions: Partial<Record<ConfigKey, JsonPosition>>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORMATS = ['auto', 'json', 'env', 'dir'] as const;
/** Larger than any configuration: a file this big is a mistake, not read into memory. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Reads `file`. Missing: an empty configuration when `required` is false (the default file),
 * else ConfigFileError. Throws ConfigFileError for everything else that is wrong.
 */
export function readConfigFile(file: string, options: { required: boolean }): LoadedConfig {
  const text = readText(file, options.required);
  if (text === undefined) return { file: undefined, config: {}, positions: {} };
  return parseConfig(text, file);
}

function readText(file: string, required: boolean): string | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return undefined;
    throw new ConfigFileError(
      file,
      code === 'ENOENT' ? 'no such file' : `cannot read it: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (!stat.isFile()) throw new ConfigFileError(file, 'not a regular file');
  if (stat.size > MAX_CONFIG_BYTES) {
    throw new ConfigFileError(
      file,
      `${stat.size} bytes; a configuration file may have at most ${MAX_CONFIG_BYTES}`,
    );
  }
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(file, `cannot read it: ${(err as Error).message}`, { cause: err });
  }
}

function parseTree(text: string, file: string): JsonNode {
  try {
    return parseJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) {
      throw new ConfigFileError(file, `not valid JSON: ${err.message}`, { at: err.at, cause: err });
    }
    throw err;
  }
}

/** Validates `text` as a configuration; `file` names it in errors and is the base of relative paths. */
export function parseConfig(text: string, file: string): LoadedConfig {
  return validate(parseTree(text, file), file);
}

function describe(node: JsonNode, key?: string): string {
  // pluginEnv's values are what plugins get as their environment: tokens, passwords. An error
  // never quotes one (serve's stderr is a service's journal).
  if (node.kind === 'string' && key?.startsWith('pluginEnv')) return 'a string';
  switch (node.kind) {
    case 'object':
      return 'an object';
    case 'array':
      return 'an array';
    case 'string':
      return JSON.stringify(node.value.length > 60 ? `${node.value.slice(0, 60)}…` : node.value);
    default:
      return String(node.value);
  }
}

function validate(root: JsonNode, file: string): LoadedConfig {
  const base = dirname(file);
  const bad = (key: string | undefined, node: { at: JsonPosition }, message: string): never => {
    throw new ConfigFileError(file, message, { at: node.at, ...(key === undefined ? {} : { key }) });
  };
  const mustBe = (key: string, node: JsonNode, what: string): never =>
    bad(key, node, `must be ${what}, got ${describe(node, key)}`);
  const object = (key: string | undefined, node: JsonNode, allowed: readonly string[]) => {
    if (node.kind !== 'object') {
      return key === undefined
        ? bad(undefined, node, `the configuration must be a JSON object, got ${describe(node)}`)
        : mustBe(key, node, 'an object');
    }
    for (const e of node.entries) {
      if (!allowed.includes(e.key)) {
        const full = key === undefined ? e.key : `${key}.${e.key}`;
        bad(
          full,
          { at: e.keyAt },
          `unknown key (allowed${key === undefined ? '' : ` in "${key}"`}: ${allowed.join(', ')})`,
        );
      }
    }
    return node.entries;
  };
  const string = (key: string, node: JsonNode): string => {
    if (node.kind !== 'string') return mustBe(key, node, 'a string');
    if (node.value === '') return mustBe(key, node, 'a non-empty string');
    return node.value;
  };
  const path = (key: string, node: JsonNode): string => {
    const value = string(key, node);
    if (value.includes('\0')) return mustBe(key, node, 'a path (no NUL character)');
    return isAbsolute(value) ? value : resolve(base, value);
  };
  const bool = (key: string, node: JsonNode): boolean =>
    node.kind === 'boolean' ? node.value : mustBe(key, node, 'true or false');
  const whole = (key: string, node: JsonNode, min: number): number => {
    if (node.kind !== 'number' || !Number.isSafeInteger(node.value) || node.value < min) {
      return mustBe(key, node, `a whole number ${min === 0 ? '>= 0' : `>= ${min}`}`);
    }
    return node.value;
  };
  const pattern = (key: string, node: JsonNode): string => {
    const value = string(key, node);
    if (!isValidPattern(value)) {
      return mustBe(key, node, 'a secret pattern (components separated by "/", "*" one, "**" any)');
    }
    return value;
  };
  const name = (key: string, node: JsonNode): string => {
    const value = string(key, node);
    try {
      parsePluginName(value);
    } catch (err) {
      return mustBe(key, node, `a plugin name (${(err as Error).message.replace(/^parsing name: /, '')})`);
    }
    return value;
  };

  const config: ServeConfig = {};
  const positions: LoadedConfig['positions'] = {};
  for (const { key, value } of object(undefined, root, CONFIG_KEYS)) {
    const k = key as ConfigKey;
    positions[k] = value.at;
    switch (k) {
      case 'socket': {
        const s = string(k, value);
        config.socket = isAbstractSocketPath(s) || isAbsolute(s) ? s : resolve(base, s);
        break;
      }
      case 'pluginsDir':
      case 'stateDir':
      case 'access':
      case 'auditLog':
        config[k] = path(k, value);
        break;
      case 'launchPlugins':
      case 'externalPlugins':
        config[k] = bool(k, value);
        break;
      case 'requestTimeoutMs':
        config.requestTimeoutMs = whole(k, value, 0);
        break;
      case 'registrationTimeoutMs':
        config.registrationTimeoutMs = whole(k, value, 1);
        break;
      case 'logLevel': {
        const level = value.kind === 'string' ? value.value : '';
        if (!isLogLevel(level)) mustBe(k, value, `one of ${LOG_LEVELS.join(', ')}`);
        config.logLevel = level as LogLevel;
        break;
      }
      case 'pluginEnv': {
        if (value.kind !== 'object') mustBe(k, value, 'an object of variable names to strings');
        const env: Record<string, string> = {};
        for (const e of (value as Extract<JsonNode, { kind: 'object' }>).entries) {
          const full = `pluginEnv.${e.key}`;
          if (!ENV_NAME.test(e.key)) {
            bad(
              full,
              { at: e.keyAt },
              'not a variable name (letters, digits and "_", not starting with a digit)',
            );
          }
          if (e.value.kind !== 'string') mustBe(full, e.value, 'a string');
          env[e.key] = (e.value as { value: string }).value;
        }
        config.pluginEnv = env;
        break;
      }
      case 'disabledPlugins': {
        if (value.kind !== 'array') mustBe(k, value, 'an array of plugin names');
        const names: string[] = [];
        (value as Extract<JsonNode, { kind: 'array' }>).items.forEach((item, i) => {
          const n = name(`disabledPlugins[${i}]`, item);
          if (!names.includes(n)) names.push(n);
        });
        config.disabledPlugins = names;
        break;
      }
      case 'cache': {
        const cache: Record<string, CacheConfig> = {};
        if (value.kind !== 'object') mustBe(k, value, 'an object of plugin names to {"ttlMs": MS}');
        for (const e of (value as Extract<JsonNode, { kind: 'object' }>).entries) {
          const at = `cache.${e.key}`;
          const entries = object(at, e.value, ['ttlMs', 'maxEntries', 'maxBytes']);
          const ttl = entries.find((x) => x.key === 'ttlMs');
          if (ttl === undefined) bad(at, e.value, 'needs "ttlMs" (how long answers are kept, in ms)');
          const one: CacheConfig = { ttlMs: whole(`${at}.ttlMs`, ttl!.value, 1) };
          for (const x of entries) {
            if (x.key === 'maxEntries' || x.key === 'maxBytes')
              one[x.key] = whole(`${at}.${x.key}`, x.value, 1);
          }
          cache[e.key] = one;
        }
        config.cache = cache;
        break;
      }
      case 'builtins': {
        const builtins: NonNullable<ServeConfig['builtins']> = {};
        for (const e of object(k, value, ['file', 'env', 'keychain'])) {
          const at = `builtins.${e.key}`;
          if (e.value.kind === 'boolean' && !e.value.value) continue; // false: off
          const fields: Record<string, readonly string[]> = {
            file: ['path', 'format', 'pattern', 'name'],
            env: ['prefix', 'pattern', 'name'],
            keychain: ['service', 'pattern', 'name'],
          };
          if (e.value.kind === 'boolean') {
            if (e.key === 'file') {
              bad(
                at,
                e.value,
                'true is not enough: give {"path": FILE} (the secrets file or folder; it has no default)',
              );
            }
            builtins[e.key as 'env' | 'keychain'] = {};
            continue;
          }
          if (e.value.kind !== 'object') mustBe(at, e.value, 'true, false or an object');
          const options: Record<string, string> = {};
          for (const x of object(at, e.value, fields[e.key]!)) {
            const key = `${at}.${x.key}`;
            if (x.key === 'path') options.path = path(key, x.value);
            else if (x.key === 'name') options.name = name(key, x.value);
            else if (x.key === 'pattern') options.pattern = pattern(key, x.value);
            else if (x.key === 'format') {
              if (x.value.kind !== 'string' || !(FORMATS as readonly string[]).includes(x.value.value)) {
                mustBe(key, x.value, `one of ${FORMATS.join(', ')}`);
              }
              options.format = (x.value as { value: string }).value;
            } else options[x.key] = string(key, x.value);
          }
          if (e.key === 'file' && options.path === undefined) {
            bad(at, e.value, 'needs "path" (the secrets file or folder)');
          }
          (builtins as Record<string, unknown>)[e.key] = options;
        }
        const names = new Map<string, string>();
        for (const [kind, options] of Object.entries(builtins)) {
          const n = options.name ?? kind;
          const other = names.get(n);
          if (other !== undefined) {
            bad(
              `builtins.${kind}`,
              value,
              `its name ${JSON.stringify(n)} is also the name of builtins.${other}; give one a "name"`,
            );
          }
          names.set(n, kind);
        }
        config.builtins = builtins;
        break;
      }
    }
  }
  return { file, config, positions };
}

/**
 * The names in `file`'s `disabledPlugins` after adding (`disable: true`) or removing `name`, the
 * file rewritten atomically (0600; its folder created 0700 when missing) with its other keys
 * untouched and in their order. A file that is not a valid configuration is not rewritten
 * (ConfigFileError). Returns whether the file changed.
 */
export function updateDisabledPlugins(
  file: string,
  name: string,
  disable: boolean,
): { changed: boolean; created: boolean } {
  // A symbolic link (a dotfiles manager's) is followed: its target is what gets rewritten.
  let target = file;
  try {
    target = fs.realpathSync(file);
  } catch {
    // missing: written at `file`
  }
  const text = readText(target, false);
  const root: JsonNode =
    text === undefined
      ? { kind: 'object', entries: [], at: { line: 1, column: 1, offset: 0 } }
      : parseTree(text, file);
  // Refuse to rewrite a file serve would refuse: the problem is reported where it is.
  validate(root, file);
  if (root.kind !== 'object') throw new ConfigFileError(file, 'the configuration must be a JSON object');
  const entry = root.entries.find((e) => e.key === 'disabledPlugins');
  const current = entry === undefined ? [] : (entry.value as Extract<JsonNode, { kind: 'array' }>).items;
  const names = current.map((n) => (n as { value: string }).value);
  const has = names.includes(name);
  if (has === disable) return { changed: false, created: false };
  if (text === undefined && !disable) return { changed: false, created: false };
  const next = disable ? [...names, name] : names.filter((n) => n !== name);
  const at = entry?.value.at ?? root.at;
  const array: JsonNode = {
    kind: 'array',
    items: next.map((value) => ({ kind: 'string', value, at })),
    at,
  };
  if (entry === undefined) root.entries.push({ key: 'disabledPlugins', keyAt: at, value: array });
  else entry.value = array;
  const created = text === undefined;
  if (created) fs.mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  writePrivateFile(target, new TextEncoder().encode(stringifyJson(root)));
  return { changed: true, created };
}
