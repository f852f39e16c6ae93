// The launch channel of engine-launched plugins (protocol.md §1.2, §1.3): one end of an AF_UNIX
// socketpair on the child's fd 3, described by the DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG variable.
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { Socket } from 'node:net';
import { nodeChildProcess } from '../builtins.js';
import { LaunchConfigError, LaunchError, UnsupportedPlatformError } from '../errors.js';

/** The environment variable that carries the launch configuration (§1.3). */
export const LAUNCH_ENV = 'DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG';

/** The fd a launched plugin finds its end of the socketpair on (§1.2). */
export const LAUNCH_FD = 3;

/** A decoded launch configuration. `timeoutMs` is the registration timeout. */
export type LaunchConfig =
  | { name: string; timeoutMs: number; platform: 'unix'; fd: number }
  | { name: string; timeoutMs: number; platform: 'windows'; readHandle: bigint; writeHandle: bigint };

const NS_PER_MS = 1_000_000;

/**
 * Encodes the launch variable exactly as Go's encoding/json writes it: compact, keys in the order
 * name, timeout (nanoseconds), then the platform keys (§1.3).
 */
export function encodeLaunchConfig(config: LaunchConfig): string {
  if (config.name === '') throw new LaunchConfigError('plugin name is required');
  if (!Number.isFinite(config.timeoutMs)) {
    throw new LaunchConfigError(
      `plugin registration timeout must be a finite number of ms, got ${config.timeoutMs}`,
    );
  }
  const timeout = BigInt(Math.round(config.timeoutMs * NS_PER_MS));
  // Go's encoder also escapes <, >, & and U+2028/U+2029 (HTML-safe JSON); JSON.stringify does not.
  const name = JSON.stringify(config.name).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  if (config.platform === 'unix') return `{"name":${name},"timeout":${timeout},"fd":${config.fd}}`;
  return `{"name":${name},"timeout":${timeout},"r":${config.readHandle},"w":${config.writeHandle}}`;
}

/**
 * Decodes and validates the launch variable as the Go SDK does (§1.3): JSON keys match
 * case-insensitively (an exact match wins), unknown keys are ignored, and the same cases are
 * rejected with the same messages: "plugin name is required", "plugin registration timeout is
 * required", "invalid file descriptor for plugin connection" (unix), "invalid pipe handlers"
 * (windows). Negative timeouts are accepted, as in Go.
 */
export function parseLaunchConfig(
  value: string,
  platform: 'unix' | 'windows' = process.platform === 'win32' ? 'windows' : 'unix',
): LaunchConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch (err) {
    throw new LaunchConfigError(`${LAUNCH_ENV} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new LaunchConfigError(
      `${LAUNCH_ENV} must be a JSON object, got ${Array.isArray(raw) ? 'an array' : typeof raw}`,
    );
  }
  // JSON null decodes to the zero config in Go (then "plugin name is required").
  const obj = (raw ?? {}) as Record<string, unknown>;
  const field = (key: string): unknown => {
    if (key in obj) return obj[key];
    const found = Object.keys(obj).find((k) => k.toLowerCase() === key);
    return found === undefined ? undefined : obj[found];
  };
  const name = optional(field('name'), 'name', 'string', '');
  const timeoutNs = integer(field('timeout'), 'timeout', 0);
  if (name === '') throw new LaunchConfigError('plugin name is required');
  if (timeoutNs === 0) throw new LaunchConfigError('plugin registration timeout is required');
  const timeoutMs = timeoutNs / NS_PER_MS;
  if (platform === 'unix') {
    const fd = integer(field('fd'), 'fd', 0);
    if (fd <= 2) throw new LaunchConfigError('invalid file descriptor for plugin connection');
    return { name, timeoutMs, platform, fd };
  }
  const r = integer(field('r'), 'r', 0);
  const w = integer(field('w'), 'w', 0);
  if (r === 0 || w === 0) throw new LaunchConfigError('invalid pipe handlers');
  return { name, timeoutMs, platform, readHandle: BigInt(r), writeHandle: BigInt(w) };
}

function optional(v: unknown, key: string, type: 'string', fallback: string): string {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== type) {
    throw new LaunchConfigError(`${LAUNCH_ENV}: "${key}" must be a ${type}, got ${JSON.stringify(v)}`);
  }
  return v as string;
}

function integer(v: unknown, key: string, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new LaunchConfigError(`${LAUNCH_ENV}: "${key}" must be an integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A plugin process launched with its end of the channel, and the engine's end. */
export interface LaunchedProcess {
  readonly child: ChildProcess;
  /** The engine's end of the socketpair: run the yamux server session over it. */
  readonly socket: Socket;
  /** The launch variable value the child received. */
  readonly launchValue: string;
}

export interface LaunchOptions {
  /** Executable to run (argv[0] is this path, no arguments by default, as Docker's engine). */
  command: string;
  args?: readonly string[];
  /** The name the plugin must register with. */
  name: string;
  /** Registration timeout the plugin is told (sent in nanoseconds). Default 5 s. */
  registrationTimeoutMs?: number;
  /** Environment of the child, without the launch variable (which is added). Default: empty. */
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  /** Put the child in its own process group so the whole group can be signalled. Default true. */
  processGroup?: boolean;
  /**
   * stdout and stderr: 'pipe' to read them, 'ignore' for /dev/null, or an open file descriptor
   * (a log file: unlike a pipe, it cannot kill the plugin with SIGPIPE once the engine is gone).
   * Default 'pipe'.
   */
  output?: 'pipe' | 'ignore' | number;
}

/**
 * The transport that hands a child its end of the launch channel. Unix: a socketpair on fd 3.
 * Windows (§1.4) needs two inheritable anonymous pipes whose raw HANDLE values travel in the
 * launch JSON, which Node cannot do without native code.
 */
export interface LaunchTransport {
  readonly platform: 'unix' | 'windows';
  /** Engine side: start the plugin with its end of the channel. */
  launch(options: LaunchOptions): LaunchedProcess;
  /** Plugin side: open the channel described by the launch configuration. */
  open(config: LaunchConfig): Socket;
}

const unixSocketpairTransport: LaunchTransport = {
  platform: 'unix',
  launch(options) {
    const launchValue = encodeLaunchConfig({
      name: options.name,
      timeoutMs: options.registrationTimeoutMs ?? 5_000,
      platform: 'unix',
      fd: LAUNCH_FD,
    });
    const output = options.output ?? 'pipe';
    const spawnOptions: SpawnOptions = {
      // libuv creates an AF_UNIX SOCK_STREAM socketpair for a 'pipe' slot; slot 3 is fd 3.
      stdio: ['ignore', output, output, 'pipe'],
      env: { ...(options.env ?? {}), [LAUNCH_ENV]: launchValue },
      detached: options.processGroup ?? true,
      windowsHide: true,
    };
    if (options.cwd !== undefined) spawnOptions.cwd = options.cwd;
    const child = nodeChildProcess().spawn(options.command, options.args ?? [], spawnOptions);
    // After a failed spawn (EMFILE) `stdio` itself is undefined.
    const socket = (child.stdio as ChildProcess['stdio'] | undefined)?.[3];
    if (!(socket instanceof Socket)) {
      // The spawn failed before the socketpair existed (EMFILE: the fd table is full). Its 'error'
      // event follows on the next tick; owned here, it is not an uncaught exception that takes the
      // engine down. This attempt fails; the caller's supervisor decides about the next one.
      child.once('error', () => {});
      for (const stream of (child.stdio as ChildProcess['stdio'] | undefined) ?? []) stream?.destroy();
      // Only a child that exists: after a failed spawn the handle's pid is 0, and kill(0) would
      // signal our own process group.
      if (child.pid !== undefined && child.pid > 0) child.kill('SIGKILL');
      throw new LaunchError(
        `cannot launch ${options.command}: no socketpair for fd 3 (the process may be out of file descriptors)`,
      );
    }
    return { child, socket, launchValue };
  },
  open(config) {
    if (config.platform !== 'unix') {
      throw new LaunchConfigError('launch configuration carries pipe handles, but this is not Windows');
    }
    return new Socket({ fd: config.fd, readable: true, writable: true, allowHalfOpen: false });
  },
};

const windowsPipePairTransport: LaunchTransport = {
  platform: 'windows',
  launch() {
    throw new UnsupportedPlatformError(
      'launching plugins is not supported on Windows yet: the pipe-pair launch channel (protocol.md §1.4) needs native handle access',
    );
  },
  open() {
    throw new UnsupportedPlatformError(
      'engine-launched plugins are not supported on Windows yet: the pipe-pair launch channel (protocol.md §1.4) needs native handle access; start the plugin by hand instead',
    );
  },
};

/** The launch transport of this platform. */
export function launchTransport(platform: NodeJS.Platform = process.platform): LaunchTransport {
  return platform === 'win32' ? windowsPipePairTransport : unixSocketpairTransport;
}

/** Engine side: launches a plugin with a socketpair on its fd 3 (§1.2). */
export function launchPlugin(options: LaunchOptions): LaunchedProcess {
  return launchTransport().launch(options);
}

/**
 * Plugin side: if the launch variable is set, validates it and opens the channel. Returns
 * undefined when the plugin was not launched by an engine. A set but invalid variable throws:
 * there is no fallback to a manual launch (§1.3).
 */
export function openLaunchChannel(
  env: Readonly<Record<string, string | undefined>> = process.env,
): { config: LaunchConfig; socket: Socket } | undefined {
  const value = env[LAUNCH_ENV];
  if (value === undefined) return undefined;
  const config = parseLaunchConfig(value);
  return { config, socket: launchTransport().open(config) };
}
