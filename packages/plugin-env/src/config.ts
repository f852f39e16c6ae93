// The bin's settings, each from the first of: a flag (started by hand), a variable
// ($SECRETS_ENV_PREFIX, $SECRETS_ENV_PATTERN: the engine's `pluginEnv` / `--plugin-env`), the
// config file (`<executable-name>.json` beside the executable, else
// `$XDG_CONFIG_HOME/secrets-engine/<executable-name>.json`), the default.
import { readFileSync } from 'node:fs';
import { configFileCandidates } from '@secrets-engine/plugin-sdk';
import { ConfigError } from './errors.js';
import { DEFAULT_PATTERN, DEFAULT_PREFIX } from './provider.js';

export const PREFIX_ENV = 'SECRETS_ENV_PREFIX';
export const PATTERN_ENV = 'SECRETS_ENV_PATTERN';

export interface EnvProviderConfig {
  prefix: string;
  pattern: string;
  lowercase: boolean;
  allowEmpty: boolean;
  /** The config file read, if any (for the startup line). */
  configFile: string | undefined;
}

export interface ConfigLookupOptions {
  flags?: {
    prefix?: string | undefined;
    pattern?: string | undefined;
    'keep-case'?: boolean | undefined;
    'allow-empty'?: boolean | undefined;
  };
  env: Readonly<Record<string, string | undefined>>;
  /** The path the plugin was started as (`process.argv[1]`; a symbolic link is NOT resolved). */
  executable: string | undefined;
}

interface FileSettings {
  path: string;
  prefix?: string;
  pattern?: string;
  lowercase?: boolean;
  allowEmpty?: boolean;
}

/** The settings. Throws `ConfigError` naming the config file and key of a bad value. */
export function loadConfig(options: ConfigLookupOptions): EnvProviderConfig {
  const flags = options.flags ?? {};
  let file: FileSettings | undefined;
  for (const candidate of configFileCandidates({ executable: options.executable, env: options.env })) {
    file = readConfigFile(candidate);
    if (file !== undefined) break;
  }
  const env = (name: string) => nonEmpty(options.env[name]);
  return {
    prefix: nonEmpty(flags.prefix) ?? env(PREFIX_ENV) ?? file?.prefix ?? DEFAULT_PREFIX,
    pattern: nonEmpty(flags.pattern) ?? env(PATTERN_ENV) ?? file?.pattern ?? DEFAULT_PATTERN,
    lowercase: flags['keep-case'] === true ? false : (file?.lowercase ?? true),
    allowEmpty: flags['allow-empty'] === true ? true : (file?.allowEmpty ?? false),
    configFile: file?.path,
  };
}

/** Reads one config file; undefined if it does not exist. A file that exists must be valid. */
function readConfigFile(path: string): FileSettings | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ConfigError(`${path}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(`${path}: not valid JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${path}: expected an object like {"prefix": "SE_SECRET_", "pattern": "env/**"}`);
  }
  const { prefix, pattern, lowercase, allowEmpty, ...rest } = raw as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new ConfigError(
      `${path}: unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: "prefix", "pattern", "lowercase", "allowEmpty"`,
    );
  }
  const settings: FileSettings = { path };
  if (prefix !== undefined) {
    if (typeof prefix !== 'string') throw new ConfigError(`${path}: "prefix" must be a string`);
    settings.prefix = prefix;
  }
  if (pattern !== undefined) {
    if (typeof pattern !== 'string') throw new ConfigError(`${path}: "pattern" must be a string`);
    settings.pattern = pattern;
  }
  if (lowercase !== undefined) {
    if (typeof lowercase !== 'boolean') throw new ConfigError(`${path}: "lowercase" must be true or false`);
    settings.lowercase = lowercase;
  }
  if (allowEmpty !== undefined) {
    if (typeof allowEmpty !== 'boolean') throw new ConfigError(`${path}: "allowEmpty" must be true or false`);
    settings.allowEmpty = allowEmpty;
  }
  return settings;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
