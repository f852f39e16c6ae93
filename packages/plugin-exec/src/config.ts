// The bin's settings. An engine launches a plugin with an allowlisted environment only (PATH,
// HOME, USER, LANG, TMPDIR, XDG_*) plus the engine's `pluginEnv`, and with no arguments, so each
// setting comes from the first of: a flag (started by hand); a variable ($CREDENTIAL_HELPER,
// $CREDENTIAL_HELPER_PATTERN, $CREDENTIAL_HELPER_TIMEOUT_MS: the engine's `pluginEnv` /
// `--plugin-env`); the config file (`<executable-name>.json` beside the executable, else
// `$XDG_CONFIG_HOME/secrets-engine/<executable-name>.json`: `{"helper", "pattern", "timeoutMs"}`);
// the default.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { configFileCandidates, isValidPattern } from '@secrets-engine/plugin-sdk';
import { ConfigError } from './errors.js';

export const DEFAULT_PATTERN = 'docker-credentials/**';
export const DEFAULT_TIMEOUT_MS = 30_000;
export const HELPER_ENV = 'CREDENTIAL_HELPER';
export const PATTERN_ENV = 'CREDENTIAL_HELPER_PATTERN';
export const TIMEOUT_ENV = 'CREDENTIAL_HELPER_TIMEOUT_MS';

export interface ExecProviderConfig {
  /** The helper: a path, or a bare command name looked up on PATH (`docker-credential-pass`). */
  helper: string;
  pattern: string;
  /** Bound of each helper run. */
  timeoutMs: number;
  /** Where `helper` came from: `--helper`, `$CREDENTIAL_HELPER` or a config file's path. */
  source: string;
}

export interface ConfigLookupOptions {
  /** Flag values (`--helper`, `--pattern`, `--timeout-ms`); missing ones fall through. */
  flags?: { helper?: string | undefined; pattern?: string | undefined; 'timeout-ms'?: string | undefined };
  env: Readonly<Record<string, string | undefined>>;
  /** The path the plugin was started as (`process.argv[1]`; a symlink is NOT resolved). */
  executable: string | undefined;
  /** Base of a relative `--helper` or $CREDENTIAL_HELPER path. Default `process.cwd()`. */
  cwd?: string;
}

/** A bare name stays a name (PATH lookup at spawn); anything with a `/` is a path from `base`. */
function helperPath(helper: string, base: string): string {
  return helper.includes('/') ? resolve(base, helper) : helper;
}

interface FileSettings {
  path: string;
  helper?: string;
  pattern?: string;
  timeoutMs?: number;
}

/** The settings, each from its first source: a flag, a variable, the config file, the default. */
export function loadConfig(options: ConfigLookupOptions): ExecProviderConfig {
  const cwd = options.cwd ?? process.cwd();
  const flags = options.flags ?? {};
  const looked = configFileCandidates({ executable: options.executable, env: options.env });
  let file: FileSettings | undefined;
  for (const candidate of looked) {
    file = readConfigFile(candidate);
    if (file !== undefined) break;
  }
  const env = (name: string) => nonEmpty(options.env[name]);

  let helper: { value: string; source: string } | undefined;
  if (nonEmpty(flags.helper) !== undefined)
    helper = { value: helperPath(flags.helper!, cwd), source: '--helper' };
  else if (env(HELPER_ENV) !== undefined) {
    helper = { value: helperPath(env(HELPER_ENV)!, cwd), source: `$${HELPER_ENV}` };
  } else if (file?.helper !== undefined) {
    // A relative path is relative to the config file, not to wherever the engine was started.
    helper = { value: helperPath(file.helper, dirname(file.path)), source: file.path };
  }
  if (helper === undefined) {
    throw new ConfigError(
      `no configuration: pass --helper, set $${HELPER_ENV} (engine pluginEnv / --plugin-env) or write {"helper": "docker-credential-..."} to ${
        looked.length > 0 ? looked.join(' or ') : '<executable-name>.json beside the executable'
      }`,
    );
  }

  let pattern = { value: DEFAULT_PATTERN, source: 'default' };
  if (nonEmpty(flags.pattern) !== undefined) pattern = { value: flags.pattern!, source: '--pattern' };
  else if (env(PATTERN_ENV) !== undefined) pattern = { value: env(PATTERN_ENV)!, source: `$${PATTERN_ENV}` };
  else if (file?.pattern !== undefined) pattern = { value: file.pattern, source: `${file.path}: "pattern"` };
  if (!isValidPattern(pattern.value)) {
    throw new ConfigError(`${pattern.source}: invalid pattern ${JSON.stringify(pattern.value)}`);
  }

  let timeout: { value: number; source: string } = { value: DEFAULT_TIMEOUT_MS, source: 'default' };
  if (nonEmpty(flags['timeout-ms']) !== undefined) {
    timeout = { value: Number(flags['timeout-ms']), source: '--timeout-ms' };
  } else if (env(TIMEOUT_ENV) !== undefined) {
    timeout = { value: Number(env(TIMEOUT_ENV)), source: `$${TIMEOUT_ENV}` };
  } else if (file?.timeoutMs !== undefined) {
    timeout = { value: file.timeoutMs, source: `${file.path}: "timeoutMs"` };
  }
  if (!Number.isInteger(timeout.value) || timeout.value <= 0) {
    throw new ConfigError(`${timeout.source}: timeoutMs must be a positive whole number of ms`);
  }
  return { helper: helper.value, pattern: pattern.value, timeoutMs: timeout.value, source: helper.source };
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
    throw new ConfigError(`${path}: expected an object like {"helper": "docker-credential-pass"}`);
  }
  const { helper, pattern, timeoutMs, ...rest } = raw as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new ConfigError(
      `${path}: unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: "helper", "pattern", "timeoutMs"`,
    );
  }
  const settings: FileSettings = { path };
  if (helper !== undefined) {
    if (typeof helper !== 'string' || helper === '') {
      throw new ConfigError(`${path}: "helper" must be a command name or a path`);
    }
    settings.helper = helper;
  }
  if (pattern !== undefined) {
    if (typeof pattern !== 'string') throw new ConfigError(`${path}: "pattern" must be a string`);
    settings.pattern = pattern;
  }
  if (timeoutMs !== undefined) {
    if (typeof timeoutMs !== 'number') throw new ConfigError(`${path}: "timeoutMs" must be a number`);
    settings.timeoutMs = timeoutMs;
  }
  return settings;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
