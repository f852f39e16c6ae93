// The bin's settings. An engine launches a plugin with no arguments and an allowlisted environment
// (PATH, HOME, USER, LANG, TMPDIR, XDG_*) plus its `pluginEnv`, so each setting is taken from the
// first of: a flag (started by hand), a variable ($SECRETS_FILE, $SECRETS_FILE_PATTERN,
// $SECRETS_FILE_FORMAT: the engine's `pluginEnv` / `--plugin-env`), the config file
// (`<executable-name>.json` beside the executable, else
// `$XDG_CONFIG_HOME/secrets-engine/<executable-name>.json`), the default.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { configFileCandidates, isValidPattern } from '@secrets-engine/plugin-sdk';
import { ConfigError } from './errors.js';
import type { SecretsFormat } from './parse.js';
import { DEFAULT_PATTERN, FORMATS } from './provider.js';

export const FILE_ENV = 'SECRETS_FILE';
export const PATTERN_ENV = 'SECRETS_FILE_PATTERN';
export const FORMAT_ENV = 'SECRETS_FILE_FORMAT';

export interface FileProviderConfig {
  /** Absolute path of the secrets file or folder. */
  file: string;
  format: SecretsFormat | 'auto';
  pattern: string;
  /** Where `file` came from: `--file`, `$SECRETS_FILE` or a config file's path (for the startup line). */
  source: string;
}

export interface ConfigLookupOptions {
  /** Flag values (`--file`, `--pattern`, `--format`); missing ones fall through. */
  flags?: { file?: string | undefined; pattern?: string | undefined; format?: string | undefined };
  env: Readonly<Record<string, string | undefined>>;
  /** The path the plugin was started as (`process.argv[1]`; a symbolic link is NOT resolved). */
  executable: string | undefined;
  /** Base of a relative `--file` or `$SECRETS_FILE`. Default `process.cwd()`. */
  cwd?: string;
}

interface FileSettings {
  path: string;
  file?: string;
  pattern?: string;
  format?: string;
}

/** The settings, each from its first source. Throws `ConfigError` naming the source of a bad value. */
export function loadConfig(options: ConfigLookupOptions): FileProviderConfig {
  const cwd = options.cwd ?? process.cwd();
  const flags = options.flags ?? {};
  const looked = configFileCandidates({ executable: options.executable, env: options.env });
  let fromFile: FileSettings | undefined;
  for (const candidate of looked) {
    fromFile = readConfigFile(candidate);
    if (fromFile !== undefined) break;
  }
  const env = (name: string) => nonEmpty(options.env[name]);

  let file: { value: string; source: string } | undefined;
  if (nonEmpty(flags.file) !== undefined) file = { value: resolve(cwd, flags.file!), source: '--file' };
  else if (env(FILE_ENV) !== undefined)
    file = { value: resolve(cwd, env(FILE_ENV)!), source: `$${FILE_ENV}` };
  else if (fromFile?.file !== undefined) {
    // Relative to the config file, not to wherever the engine was started.
    file = { value: resolve(dirname(fromFile.path), fromFile.file), source: fromFile.path };
  }
  if (file === undefined) {
    throw new ConfigError(
      `no secrets file: pass --file PATH, set $${FILE_ENV} (engine pluginEnv / --plugin-env) or write {"file": "..."} to ${
        looked.length > 0 ? looked.join(' or ') : '<executable-name>.json beside the executable'
      }`,
    );
  }

  const pick = (flag: string | undefined, envName: string, key: 'pattern' | 'format') => {
    if (nonEmpty(flag) !== undefined) return { value: flag!, source: `--${key}` };
    if (env(envName) !== undefined) return { value: env(envName)!, source: `$${envName}` };
    if (fromFile?.[key] !== undefined) return { value: fromFile[key]!, source: `${fromFile.path}: "${key}"` };
    return undefined;
  };
  const pattern = pick(flags.pattern, PATTERN_ENV, 'pattern') ?? {
    value: DEFAULT_PATTERN,
    source: 'default',
  };
  if (!isValidPattern(pattern.value)) {
    throw new ConfigError(
      `${pattern.source}: invalid pattern ${JSON.stringify(pattern.value)} (components of A-Z a-z 0-9 . _ - :, or * and **, joined by /)`,
    );
  }
  const format = pick(flags.format, FORMAT_ENV, 'format') ?? { value: 'auto', source: 'default' };
  if (!(FORMATS as readonly string[]).includes(format.value)) {
    throw new ConfigError(
      `${format.source}: format ${JSON.stringify(format.value)} is not one of ${FORMATS.join(', ')}`,
    );
  }
  return {
    file: file.value,
    format: format.value as SecretsFormat | 'auto',
    pattern: pattern.value,
    source: file.source,
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
    throw new ConfigError(
      `${path}: expected an object like {"file": "secrets.json", "pattern": "file/**", "format": "auto"}`,
    );
  }
  const { file, pattern, format, ...rest } = raw as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new ConfigError(
      `${path}: unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: "file", "pattern", "format"`,
    );
  }
  const settings: FileSettings = { path };
  for (const [key, value] of [
    ['file', file],
    ['pattern', pattern],
    ['format', format],
  ] as const) {
    if (value === undefined) continue;
    if (typeof value !== 'string' || value === '') {
      throw new ConfigError(`${path}: "${key}" must be a non-empty string`);
    }
    settings[key] = value;
  }
  return settings;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
