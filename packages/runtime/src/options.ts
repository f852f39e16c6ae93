// Engine options: the public options object, its defaults, and validation (as yamux's
// config.ts/verifyConfig do): createEngine() refuses a bad value with EngineConfigError before
// anything starts, and the rest of the engine only ever sees a complete, valid ResolvedOptions.
import { isIpcError, type Logger, type MuxSessionInit } from '@secrets-engine/ipc';
import { resolveSessionInit } from '@secrets-engine/ipc/internal';
import { defaultSocketPath, parseVersion } from '@secrets-engine/secrets';
import { type AccessPolicy, sameUserPolicy } from './access.js';
import type { AuditSink } from './audit.js';
import type { BuiltinPlugin } from './builtin.js';
import { type CacheOptions, resolveCacheOptions } from './cache.js';
import { EngineConfigError } from './errors.js';
import type { RestartPolicy } from './launched.js';
import { PACKAGE_VERSION } from './package-version.js';
import { defaultStateDir } from './state.js';

export interface EngineOptions {
  /** Where the engine listens. Default: `$SECRETS_ENGINE_SOCKET`, else the default path. */
  socketPath?: string;
  /** Folder of plugin executables to launch (protocol.md §1.1). None by default. */
  pluginsDir?: string;
  /** In-process providers. */
  plugins?: BuiltinPlugin[];
  /**
   * The engine's own folder: each launched plugin's output file (`logs/<name>.log`, 0600, rotated
   * at 8 MiB) and a record of each launched plugin's process group (`groups/`), so that an engine
   * started after one that was killed ends the processes it left. Created 0700; a symlink,
   * another owner or a group/other-writable folder is refused. Default `<socketPath>.state`
   * (for an abstract socket, `<tmpdir>/secrets-engine-<uid>/<name>.state`).
   */
  stateDir?: string;
  /** Launch the plugins found in `pluginsDir`. Default true. */
  launchPlugins?: boolean;
  /** Accept plugins started by hand through /hijack. Default true. */
  externalPlugins?: boolean;
  /** Registration deadline of a plugin, from its launch or connection. Default 5 s. */
  registrationTimeoutMs?: number;
  /** Deadline of each plugin's part of a request. Default 60 s (providers may prompt a person). */
  requestTimeoutMs?: number;
  /** Bound of each shutdown step (Shutdown RPC, drain, signal, kill). Default 2 s. */
  shutdownTimeoutMs?: number;
  /**
   * Plugins that start disabled, by name (issue 15 item 3: `disabledPlugins` of serve's
   * configuration). A builtin or launched plugin of that name is listed as disabled and not
   * launched; an external plugin registering with it is refused (`failed_precondition`) until
   * `enablePlugin(name)`. `disablePlugin` adds a name, `enablePlugin` takes it out,
   * `setDisabledPlugins` replaces the list. Default none.
   */
  disabledPlugins?: string[];
  /** Restart policy of launched plugins. */
  restart?: Partial<RestartPolicy>;
  /**
   * Limits of each plugin's connection (its yamux session, launched or started by hand): a ping
   * unanswered for `keepAliveTimeoutMs` (default 10 s; pings every `keepAliveIntervalMs`, 30 s) or
   * writes that do not drain for `writeTimeoutMs` (10 s) close it; so does holding more than
   * `maxBufferedBytes` (32 MiB) unread. See the ipc package's `createMuxSession`.
   */
  pluginSession?: PluginSessionOptions;
  /**
   * Environment variables a launched plugin inherits from the engine, by name; a trailing `*`
   * matches a prefix. Default PATH, HOME, USER, LANG, TMPDIR, XDG_*, DBUS_SESSION_BUS_ADDRESS (the session bus
   * a keychain provider talks to; an address, not a credential). The launch variable is always set.
   */
  envAllowlist?: string[];
  /** Extra environment for launched plugins. */
  pluginEnv?: Record<string, string>;
  /**
   * Who may call the engine socket. Every call is checked against the caller the kernel reports
   * for its connection (uid, pid, executable), by `policy` (default `sameUserPolicy()`: the
   * engine's own uid only) and then by every registered access-control module; a throw or an
   * answer later than `timeoutMs` (default 2 s) is a denial (`permission_denied`).
   */
  access?: { policy?: AccessPolicy; timeoutMs?: number };
  /**
   * Where one record per engine-socket call goes (time, caller, method, pattern, decision, plugins
   * asked/answered/failed, IDs, duration; never a value). `createFileAuditSink` writes JSON lines.
   * The engine closes it on close(). None by default.
   */
  audit?: AuditSink;
  /**
   * Leave core dumps as they are. By default start() sets the process's soft RLIMIT_CORE to 0 and,
   * on Linux, makes it non-dumpable (no core file, no same-uid ptrace or /proc/<pid>/mem), as
   * ssh-agent does: a crashed engine's core holds the secrets it served. An application with its
   * own crash reporting may need `true`. Default false.
   */
  allowCoreDumps?: boolean;
  /**
   * Bounds on the engine socket and on requests (docs/security.md "Limits"): connections,
   * header/body/idle timeouts, file descriptors kept in reserve for plugin restarts, requests in
   * flight, and calls in flight per plugin. Every field is optional; see `LIMIT_DEFAULTS`.
   */
  limits?: Partial<EngineLimits>;
  /**
   * Opt-in answer caches, per plugin name (issue 15 item 6): `{ vault: { ttlMs: 30_000 } }` keeps
   * that plugin's successful answers for 30 s (less when an envelope's `expires_at` comes first;
   * never past it), per pattern asked. Errors and not-found are never kept; a plugin's cache is
   * dropped when it restarts, stops, is disabled or re-registers; values are overwritten when
   * their entry goes. A call with `Cache-Control: no-cache` (`get --no-cache`,
   * `getSecrets(p, { noCache: true })`) asks the plugin. Audit records list cached answers under
   * `plugins.cached`. No cache by default.
   */
  cache?: Record<string, CacheOptions>;
  /** Engine name and version reported to plugins and clients. */
  name?: string;
  version?: string;
  logger?: Logger;
}

/** The plugin-connection limits an engine takes (EngineOptions.pluginSession). */
export type PluginSessionOptions = Pick<
  MuxSessionInit,
  'keepAliveIntervalMs' | 'keepAliveTimeoutMs' | 'writeTimeoutMs' | 'maxBufferedBytes'
>;

/** The bounds of an engine (issue 12 items 2 and 6); each a positive whole number. */
export interface EngineLimits {
  /**
   * Connections open on the engine socket at once, clients and `/hijack` plugins together. At the
   * cap a new connection first takes the place of the longest-idle keep-alive connection; with none
   * idle it is answered `503` and closed at once.
   */
  maxConnections: number;
  /** Time a connection has to send a request's headers, from its first byte (or from connecting). */
  headersTimeoutMs: number;
  /** Time a connection has to send a whole request, headers and body. Not less than `headersTimeoutMs`. */
  bodyTimeoutMs: number;
  /** How long a keep-alive connection may stay idle between requests. */
  idleTimeoutMs: number;
  /**
   * File descriptors kept free for plugin restarts and the engine's own files: a new connection is
   * refused while the engine's open descriptors are within this many of its soft `RLIMIT_NOFILE`
   * (Linux: read from /proc/self/limits; elsewhere only `maxConnections` applies).
   */
  fdReserve: number;
  /** Calls on the engine socket (and `engine.getSecrets`) in progress at once; over it: `resource_exhausted`. */
  maxRequestsInFlight: number;
  /**
   * Calls the engine has open on one plugin's connection at once (one yamux stream each); more wait
   * in a FIFO queue. Below what our SDK (4096 streams) and Go's yamux (256 un-accepted) accept.
   */
  maxCallsPerPlugin: number;
  /** Calls that may wait for one plugin; over it, that plugin's part fails with `resource_exhausted`. */
  maxQueuedPerPlugin: number;
}

export const LIMIT_DEFAULTS: Readonly<EngineLimits> = Object.freeze({
  maxConnections: 4096,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  // Longer than Go clients' 90 s idle timeout, so a client never reuses a connection we closed.
  idleTimeoutMs: 120_000,
  fdReserve: 64,
  maxRequestsInFlight: 2048,
  maxCallsPerPlugin: 256,
  maxQueuedPerPlugin: 2048,
});

export const ENGINE_NAME = 'secrets-engine';
export const ENGINE_VERSION = `v${PACKAGE_VERSION}`;

export const DEFAULT_ENV_ALLOWLIST: readonly string[] = [
  'PATH',
  'HOME',
  'USER',
  'LANG',
  'TMPDIR',
  'XDG_*',
  'DBUS_SESSION_BUS_ADDRESS',
];

/** EngineOptions with every default applied and every value checked. */
export interface ResolvedOptions {
  socketPath: string;
  pluginsDir: string | undefined;
  stateDir: string;
  launchPlugins: boolean;
  externalPlugins: boolean;
  disabledPlugins: Set<string>;
  registrationTimeoutMs: number;
  requestTimeoutMs: number;
  shutdownTimeoutMs: number;
  restart: RestartPolicy;
  pluginSession: PluginSessionOptions;
  envAllowlist: readonly string[];
  pluginEnv: Record<string, string>;
  access: { policy: AccessPolicy; timeoutMs: number };
  audit: AuditSink | undefined;
  allowCoreDumps: boolean;
  limits: EngineLimits;
  cache: Map<string, Required<CacheOptions>>;
  name: string;
  version: string;
}

/** Applies the defaults and validates; throws EngineConfigError naming the option and the value. */
export function resolveOptions(options: EngineOptions): ResolvedOptions {
  const restart: RestartPolicy = {
    initialDelayMs: ms('restart.initialDelayMs', options.restart?.initialDelayMs, 2_000, true),
    multiplier: options.restart?.multiplier ?? 1.5,
    maxDelayMs: ms('restart.maxDelayMs', options.restart?.maxDelayMs, 60_000, true),
    maxRetries: options.restart?.maxRetries ?? 5,
    healthyAfterMs: ms('restart.healthyAfterMs', options.restart?.healthyAfterMs, 10_000, true),
  };
  if (!(restart.multiplier >= 1))
    throw new EngineConfigError(`createEngine: restart.multiplier must be >= 1, got ${restart.multiplier}`);
  if (!Number.isInteger(restart.maxRetries) || restart.maxRetries < 0) {
    throw new EngineConfigError(
      `createEngine: restart.maxRetries must be a whole number >= 0, got ${restart.maxRetries}`,
    );
  }
  let version: string;
  try {
    version = parseVersion(options.version ?? ENGINE_VERSION);
  } catch (err) {
    throw new EngineConfigError(`createEngine: version: ${(err as Error).message}`, { cause: err });
  }
  const socketPath = options.socketPath ?? defaultSocketPath();
  const cache = new Map<string, Required<CacheOptions>>();
  if (options.cache !== undefined) {
    if (typeof options.cache !== 'object' || options.cache === null || Array.isArray(options.cache)) {
      throw new EngineConfigError('createEngine: cache must be an object of plugin name → { ttlMs }');
    }
    for (const [plugin, value] of Object.entries(options.cache))
      cache.set(plugin, resolveCacheOptions(plugin, value));
  }
  if (options.stateDir !== undefined && (typeof options.stateDir !== 'string' || options.stateDir === '')) {
    throw new EngineConfigError(
      `createEngine: stateDir must be a non-empty path, got ${JSON.stringify(options.stateDir)}`,
    );
  }
  return {
    socketPath,
    pluginsDir: options.pluginsDir,
    stateDir: options.stateDir ?? defaultStateDir(socketPath),
    registrationTimeoutMs: ms('registrationTimeoutMs', options.registrationTimeoutMs, 5_000),
    requestTimeoutMs: ms('requestTimeoutMs', options.requestTimeoutMs, 60_000, true),
    shutdownTimeoutMs: ms('shutdownTimeoutMs', options.shutdownTimeoutMs, 2_000),
    launchPlugins: options.launchPlugins ?? true,
    externalPlugins: options.externalPlugins ?? true,
    disabledPlugins: resolveDisabled(options.disabledPlugins),
    name: options.name ?? ENGINE_NAME,
    version,
    restart,
    pluginSession: resolvePluginSession(options.pluginSession),
    envAllowlist: options.envAllowlist ?? DEFAULT_ENV_ALLOWLIST,
    pluginEnv: options.pluginEnv ?? {},
    access: resolveAccess(options.access),
    audit: resolveAudit(options.audit),
    allowCoreDumps: flag('allowCoreDumps', options.allowCoreDumps, false),
    limits: resolveLimits(options.limits),
    cache,
  };
}

/** A list of plugin names (disabledPlugins, setDisabledPlugins); EngineConfigError otherwise. */
export function resolveDisabled(
  names: readonly string[] | undefined,
  where = 'createEngine: disabledPlugins',
): Set<string> {
  if (names === undefined) return new Set();
  if (!Array.isArray(names)) {
    throw new EngineConfigError(`${where} must be an array of plugin names, got ${typeof names}`);
  }
  for (const name of names) {
    if (typeof name !== 'string' || name === '') {
      throw new EngineConfigError(`${where} must hold non-empty plugin names, got ${JSON.stringify(name)}`);
    }
  }
  return new Set(names);
}

const PLUGIN_SESSION_KEYS = [
  'keepAliveIntervalMs',
  'keepAliveTimeoutMs',
  'writeTimeoutMs',
  'maxBufferedBytes',
];

function resolvePluginSession(session: EngineOptions['pluginSession']): PluginSessionOptions {
  if (session === undefined) return {};
  if (typeof session !== 'object' || session === null) {
    throw new EngineConfigError(`createEngine: pluginSession must be an object, got ${typeof session}`);
  }
  const unknown = Object.keys(session).filter((k) => !PLUGIN_SESSION_KEYS.includes(k));
  if (unknown.length > 0) {
    throw new EngineConfigError(
      `createEngine: pluginSession does not take ${unknown.map((k) => JSON.stringify(k)).join(', ')} (allowed: ${PLUGIN_SESSION_KEYS.join(', ')})`,
    );
  }
  try {
    // The same checks (and ranges) as every session the engine will create with them.
    resolveSessionInit({ role: 'server', ...session });
  } catch (err) {
    if (!isIpcError(err)) throw err;
    throw new EngineConfigError(`createEngine: pluginSession: ${(err as Error).message}`, { cause: err });
  }
  return { ...session };
}

function resolveLimits(limits: EngineOptions['limits']): EngineLimits {
  if (limits !== undefined && (typeof limits !== 'object' || limits === null)) {
    throw new EngineConfigError(`createEngine: limits must be an object, got ${typeof limits}`);
  }
  const out = { ...LIMIT_DEFAULTS };
  for (const [key, value] of Object.entries(limits ?? {})) {
    if (!(key in LIMIT_DEFAULTS)) {
      throw new EngineConfigError(
        `createEngine: limits.${key} is not a limit (known: ${Object.keys(LIMIT_DEFAULTS).join(', ')})`,
      );
    }
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1) {
      throw new EngineConfigError(
        `createEngine: limits.${key} must be a whole number from 1 to ${2 ** 31 - 1}, got ${String(value)}`,
      );
    }
    out[key as keyof EngineLimits] = value;
  }
  if (out.bodyTimeoutMs < out.headersTimeoutMs) {
    throw new EngineConfigError(
      `createEngine: limits.bodyTimeoutMs (${out.bodyTimeoutMs}) must not be less than limits.headersTimeoutMs (${out.headersTimeoutMs}): the body deadline includes the headers`,
    );
  }
  return out;
}

function resolveAudit(audit: EngineOptions['audit']): AuditSink | undefined {
  if (audit === undefined) return undefined;
  if (
    typeof audit !== 'object' ||
    audit === null ||
    typeof audit.write !== 'function' ||
    typeof audit.close !== 'function'
  ) {
    throw new EngineConfigError('createEngine: audit must be an AuditSink ({ write(record), close() })');
  }
  return audit;
}

function resolveAccess(access: EngineOptions['access']): ResolvedOptions['access'] {
  if (access !== undefined && (typeof access !== 'object' || access === null)) {
    throw new EngineConfigError(`createEngine: access must be an object, got ${typeof access}`);
  }
  const policy = access?.policy ?? sameUserPolicy();
  if (typeof policy !== 'function') {
    throw new EngineConfigError(
      `createEngine: access.policy must be a function (caller, request, { signal }) => allow | deny, got ${typeof policy}`,
    );
  }
  return { policy, timeoutMs: ms('access.timeoutMs', access?.timeoutMs, 2_000) };
}

/** A duration option in ms: its default when unset, else a finite number > 0 (or >= 0). */
function ms(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new EngineConfigError(
      `createEngine: ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of ms, got ${value}`,
    );
  }
  return value;
}

/** A boolean option: its default when unset, else true or false (nothing else). */
function flag(name: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new EngineConfigError(`createEngine: ${name} must be true or false, got ${JSON.stringify(value)}`);
  }
  return value;
}
