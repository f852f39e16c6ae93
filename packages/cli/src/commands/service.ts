// secrets-engine service install [--socket P] [--plugins-dir D] [--config F] [--print] [--no-start] [--force]
// secrets-engine service uninstall
// secrets-engine service status
// The engine as a per-user service: a systemd user unit on Linux, a launchd agent on macOS
// (service-files.ts writes them), loaded with systemctl --user / launchctl.
import { execFile } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultSocketPath } from '@secrets-engine/secrets';
import { isAbstractSocketPath } from '@secrets-engine/secrets/internal';
import { parseCommand, positionals, socketOption } from '../args.js';
import { ConfigFileError, readConfigFile } from '../config.js';
import { openClient } from '../engine-client.js';
import { CliError, ExitCode, errorMessage, UsageError } from '../errors.js';
import { COMMAND_HELP } from '../help.js';
import type { Io } from '../io.js';
import { configDir, defaultConfigPath, type Env } from '../paths.js';
import {
  LAUNCHD_LABEL,
  launchdPlist,
  launchdSocket,
  ServiceFileError,
  SYSTEMD_DEFAULT_SOCKET,
  SYSTEMD_UNIT,
  systemdUnit,
  systemdUnitSocket,
} from '../service-files.js';

/** What the command needs from its process (replaced in in-process tests). */
export interface ServiceHost {
  platform: NodeJS.Platform;
  env: Env;
  uid: number;
  /** The Node.js binary the service runs. */
  execPath: string;
  /** The CLI's bin.js the service runs; undefined: found from this module's location. */
  bin?: string;
  cwd: string;
  /** How long install waits for the started engine to answer, in ms (default 15000). */
  startTimeoutMs?: number;
}

/** How long install waits for the started engine to answer, and status for an answer. */
const START_TIMEOUT_MS = 15_000;
const STATUS_TIMEOUT_MS = 2_000;
/** How long one systemctl/launchctl call may take. */
const TOOL_TIMEOUT_MS = 60_000;

const USAGE = 'use install, uninstall or status';

export async function serviceCommand(args: string[], io: Io, host?: ServiceHost): Promise<number> {
  const { values, positionals: rest } = parseCommand('service', args, {
    ...socketOption,
    'plugins-dir': { type: 'string', short: 'd' },
    config: { type: 'string' },
    print: { type: 'boolean' },
    'no-start': { type: 'boolean' },
    force: { type: 'boolean' },
  });
  if (values.help) {
    io.out(COMMAND_HELP.service!);
    return ExitCode.ok;
  }
  const [sub, ...operands] = rest;
  if (sub === undefined) throw new UsageError(`missing subcommand (${USAGE})`, 'service');
  if (sub !== 'install' && sub !== 'uninstall' && sub !== 'status') {
    throw new UsageError(`unknown service subcommand ${JSON.stringify(sub)} (${USAGE})`, 'service');
  }
  positionals('service', operands, []);
  if (sub !== 'install') {
    for (const flag of ['socket', 'plugins-dir', 'config', 'print', 'no-start', 'force'] as const) {
      if (values[flag] !== undefined)
        throw new UsageError(`--${flag} is a flag of 'service install'`, 'service');
    }
  }
  const h = host ?? processHost();
  const manager = serviceManager(h);
  if (sub === 'install') {
    return install(manager, h, io, {
      socket: values.socket,
      pluginsDir: values['plugins-dir'],
      config: values.config,
      print: values.print === true,
      noStart: values['no-start'] === true,
      force: values.force === true,
    });
  }
  if (sub === 'uninstall') return uninstall(manager, io);
  return status(manager, io);
}

function processHost(): ServiceHost {
  return {
    platform: process.platform,
    env: process.env,
    uid: process.getuid?.() ?? -1,
    execPath: process.execPath,
    cwd: process.cwd(),
  };
}

/** The CLI's bundle/bin.js: the package folder is the first one above this module with our package.json. */
function findBin(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === '@secrets-engine/cli') {
        const bin = join(dir, 'bundle', 'bin.js');
        if (existsSync(bin)) return bin;
        break;
      }
    } catch {
      // no package.json here
    }
    dir = dirname(dir);
  }
  throw new CliError(
    `cannot find the secrets-engine executable (bundle/bin.js of @secrets-engine/cli) above ${fileURLToPath(import.meta.url)}; is the package built?`,
    ExitCode.error,
  );
}

interface InstallOptions {
  socket: string | undefined;
  pluginsDir: string | undefined;
  config: string | undefined;
  print: boolean;
  noStart: boolean;
  force: boolean;
}

/** What differs between systemd and launchd. */
interface ServiceManager {
  /** The service file. */
  file: string;
  /** The file's text for these serve arguments. */
  render(node: string, bin: string, serveArgs: string[]): string;
  /** The socket the installed file serves on. */
  socketOf(text: string): string | undefined;
  /** The `serve` arguments for the socket (undefined: the service's default). */
  socketArgs(socket: string | undefined): string[];
  logs: string;
  /** Loads and starts the service after its file was written (`replaced`: it held another file). */
  start(replaced: boolean): Promise<string>;
  /** Stops and unloads the service; returns what was done. */
  stop(): Promise<string>;
  /** Once the file is removed. */
  afterRemove(): Promise<void>;
  /** `active` and the manager's own word for its state. */
  state(): Promise<{ active: boolean; text: string }>;
  /** How to start the written file by hand. */
  startByHand: string;
  prepare?(): void;
}

function serviceManager(host: ServiceHost): ServiceManager {
  if (host.platform === 'linux') return systemd(host);
  if (host.platform === 'darwin') return launchd(host);
  throw new CliError(
    `'secrets-engine service' is not supported on ${host.platform}: it installs a systemd user unit on Linux and a launchd agent on macOS; elsewhere run 'secrets-engine serve' under your own service manager`,
    ExitCode.error,
  );
}

function home(env: Env): string {
  return env.HOME !== undefined && isAbsolute(env.HOME) ? env.HOME : homedir();
}

/** A failed systemctl/launchctl call; `noManager`: there is no user manager to talk to. */
class ServiceToolError extends Error {
  static {
    ServiceToolError.prototype.name = 'ServiceToolError';
  }
  readonly noManager: boolean;
  readonly exitCode: number | undefined;
  constructor(message: string, noManager: boolean, exitCode?: number) {
    super(message);
    this.noManager = noManager;
    this.exitCode = exitCode;
  }
}

interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool with PATH from host.env; rejects only when it cannot run at all. */
function runTool(host: ServiceHost, argv: string[]): Promise<ToolResult> {
  const [command, ...args] = argv;
  return new Promise((resolvePromise, reject) => {
    execFile(
      command!,
      args,
      { env: host.env as NodeJS.ProcessEnv, timeout: TOOL_TIMEOUT_MS, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== 'number') {
          const missing = err.code === 'ENOENT';
          reject(
            new ServiceToolError(
              missing
                ? `${command} not found on PATH`
                : `${argv.join(' ')} could not run: ${err.killed ? `no answer within ${TOOL_TIMEOUT_MS / 1000} s` : err.message}`,
              missing,
            ),
          );
          return;
        }
        resolvePromise({ code: err === null ? 0 : (err.code as number), stdout, stderr });
      },
    );
  });
}

/** Runs a tool that must succeed. */
async function mustRun(
  host: ServiceHost,
  argv: string[],
  isNoManager: (r: ToolResult) => boolean,
): Promise<string> {
  const r = await runTool(host, argv);
  if (r.code === 0) return r.stdout;
  const said = r.stderr.trim() || r.stdout.trim() || '(no output)';
  throw new ServiceToolError(`${argv.join(' ')} failed (exit ${r.code}): ${said}`, isNoManager(r), r.code);
}

const noBus = (r: ToolResult) =>
  /Failed to connect to (bus|user scope bus)|\$DBUS_SESSION_BUS_ADDRESS|\$XDG_RUNTIME_DIR/.test(r.stderr);

function systemd(host: ServiceHost): ServiceManager {
  const dir = join(dirname(configDir(host.env)), 'systemd', 'user');
  const file = join(dir, SYSTEMD_UNIT);
  const runtimeDir = runtimeDirectory(host);
  const ctl = (...args: string[]) => mustRun(host, ['systemctl', '--user', ...args], noBus);
  return {
    file,
    render: (node, bin, serveArgs) => systemdUnit({ node, bin, serveArgs }),
    socketOf: (text) => systemdUnitSocket(text, runtimeDir),
    socketArgs: (socket) => ['--socket', socket ?? SYSTEMD_DEFAULT_SOCKET],
    logs: 'journalctl --user -u secrets-engine',
    startByHand: `systemctl --user daemon-reload && systemctl --user enable --now ${SYSTEMD_UNIT}`,
    async start(replaced) {
      await ctl('daemon-reload');
      await ctl('enable', SYSTEMD_UNIT);
      await ctl(replaced ? 'restart' : 'start', SYSTEMD_UNIT);
      return `enabled and ${replaced ? 'restarted' : 'started'} ${SYSTEMD_UNIT} (systemctl --user)`;
    },
    async stop() {
      await ctl('disable', '--now', SYSTEMD_UNIT);
      return `stopped and disabled ${SYSTEMD_UNIT}`;
    },
    async afterRemove() {
      // Without a manager, `disable` could not remove the enablement link: do it here.
      const link = join(dir, 'default.target.wants', SYSTEMD_UNIT);
      try {
        if (lstatSync(link).isSymbolicLink() && resolve(dir, readlinkSync(link)) === file) rmSync(link);
      } catch {
        // no link
      }
      await ctl('daemon-reload');
    },
    async state() {
      const r = await runTool(host, ['systemctl', '--user', 'is-active', SYSTEMD_UNIT]);
      if (noBus(r)) {
        throw new ServiceToolError(
          `systemctl --user is-active ${SYSTEMD_UNIT} failed (exit ${r.code}): ${r.stderr.trim()}`,
          true,
          r.code,
        );
      }
      const word = r.stdout.trim() || r.stderr.trim() || `exit ${r.code}`;
      return { active: r.code === 0 && word === 'active', text: `${word} (systemctl --user is-active)` };
    },
  };
}

/** `%t` of a user manager: $XDG_RUNTIME_DIR, else /run/user/UID (where pam_systemd puts it). */
function runtimeDirectory(host: ServiceHost): string {
  const dir = host.env.XDG_RUNTIME_DIR;
  return dir !== undefined && dir !== '' && isAbsolute(dir)
    ? dir.replace(/\/+$/, '')
    : `/run/user/${host.uid}`;
}

function launchd(host: ServiceHost): ServiceManager {
  const userHome = home(host.env);
  const file = join(userHome, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
  const logDir = join(userHome, 'Library', 'Logs', 'secrets-engine');
  const logFile = join(logDir, 'engine.log');
  const domain = `gui/${host.uid}`;
  const target = `${domain}/${LAUNCHD_LABEL}`;
  const ctl = (...args: string[]) => mustRun(host, ['launchctl', ...args], () => false);
  const loaded = async () => (await runTool(host, ['launchctl', 'print', target])).code === 0;
  return {
    file,
    render: (node, bin, serveArgs) => launchdPlist({ node, bin, serveArgs, logFile }),
    socketOf: launchdSocket,
    // launchd gives an agent no XDG_RUNTIME_DIR; the socket is the one this user's clients use.
    socketArgs: (socket) => ['--socket', socket ?? defaultSocketPath(host.env, 'darwin', host.uid)],
    logs: logFile,
    startByHand: `launchctl bootstrap ${domain} ${file}`,
    prepare: () => mkdirSync(logDir, { recursive: true, mode: 0o700 }),
    async start(replaced) {
      const was = await loaded();
      if (was && !replaced) return `${LAUNCHD_LABEL} is already loaded (launchctl print ${target})`;
      if (was) await ctl('bootout', target);
      await ctl('bootstrap', domain, file);
      return `loaded ${LAUNCHD_LABEL} into ${domain} (launchctl bootstrap)`;
    },
    async stop() {
      if (!(await loaded())) return `${LAUNCHD_LABEL} was not loaded`;
      await ctl('bootout', target);
      return `unloaded ${LAUNCHD_LABEL} (launchctl bootout ${target})`;
    },
    async afterRemove() {},
    async state() {
      const r = await runTool(host, ['launchctl', 'print', target]);
      if (r.code !== 0)
        return { active: false, text: `not loaded (launchctl print ${target}: exit ${r.code})` };
      const state = /^\s*state = (.+)$/m.exec(r.stdout)?.[1]?.trim() ?? 'unknown';
      const pid = /^\s*pid = (\d+)$/m.exec(r.stdout)?.[1];
      return {
        active: state === 'running',
        text: `${state}${pid === undefined ? '' : ` (pid ${pid})`} (launchctl print ${target})`,
      };
    },
  };
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${file}: ${errorMessage(err)}`, ExitCode.error, { cause: err });
  }
}

/** The first line where two texts differ, for the refusal message. */
function firstDifference(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i])
      return `line ${i + 1}: ${JSON.stringify(x[i] ?? '')} here, ${JSON.stringify(y[i] ?? '')} new`;
  }
  return 'they differ';
}

function checkPath(flag: string, path: string, kind: 'directory' | 'file'): void {
  let ok: boolean;
  try {
    const s = statSync(path);
    ok = kind === 'directory' ? s.isDirectory() : s.isFile();
  } catch (err) {
    throw new CliError(
      `${flag} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : errorMessage(err)}`,
      ExitCode.error,
      { cause: err },
    );
  }
  if (!ok) throw new CliError(`${flag} ${path}: not a ${kind}`, ExitCode.error);
}

/**
 * The socket of the configuration file the service's `serve` will read (--config, else the default
 * file), when it names one: the unit passes --socket, which would otherwise override it. A file with
 * an error is refused now rather than by a service that fails to start.
 */
function configuredSocket(host: ServiceHost, config: string | undefined): string | undefined {
  const file = config === undefined ? defaultConfigPath(host.env) : resolve(host.cwd, config);
  try {
    return readConfigFile(file, { required: false }).config.socket;
  } catch (err) {
    if (!(err instanceof ConfigFileError)) throw err;
    // The default file cannot be read at all (its folder is a file, no permission): the unit's
    // own folder under the same XDG_CONFIG_HOME gives the error that matters below.
    const errno = (err.cause as NodeJS.ErrnoException | undefined)?.code;
    if (config === undefined && errno !== undefined) return undefined;
    throw new CliError(err.message, ExitCode.error, { cause: err });
  }
}

async function install(
  manager: ServiceManager,
  host: ServiceHost,
  io: Io,
  o: InstallOptions,
): Promise<number> {
  const socket =
    o.socket === undefined
      ? configuredSocket(host, o.config)
      : isAbstractSocketPath(o.socket)
        ? o.socket
        : resolve(host.cwd, o.socket);
  const serveArgs = manager.socketArgs(socket);
  if (o.pluginsDir !== undefined) {
    const dir = resolve(host.cwd, o.pluginsDir);
    checkPath('--plugins-dir', dir, 'directory');
    serveArgs.push('--plugins-dir', dir);
  }
  if (o.config !== undefined) {
    const file = resolve(host.cwd, o.config);
    checkPath('--config', file, 'file');
    serveArgs.push('--config', file);
  }
  let text: string;
  try {
    text = manager.render(host.execPath, host.bin ?? findBin(), serveArgs);
  } catch (err) {
    if (err instanceof ServiceFileError) throw new CliError(err.message, ExitCode.error, { cause: err });
    throw err;
  }
  if (o.print) {
    io.out(text);
    return ExitCode.ok;
  }
  const existing = readIfExists(manager.file);
  const identical = existing === text;
  if (existing !== undefined && !identical && !o.force) {
    throw new CliError(
      `${manager.file} exists and is not the file this install would write (${firstDifference(existing, text)}); pass --force to replace it, or run 'secrets-engine service uninstall' first ('service install --print' shows the new file)`,
      ExitCode.error,
    );
  }
  const tmp = `${manager.file}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(manager.file), { recursive: true });
    manager.prepare?.();
    if (!identical) {
      // Written beside it, then renamed: a manager reading it never sees half a file.
      writeFileSync(tmp, text, { mode: 0o644 });
      renameSync(tmp, manager.file);
    }
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new CliError(`cannot write ${manager.file}: ${errorMessage(err)}`, ExitCode.error, { cause: err });
  }
  io.out(identical ? `${manager.file} is already installed, unchanged\n` : `wrote ${manager.file}\n`);
  const serviceSocket = manager.socketOf(text);
  if (o.noStart) {
    io.out(`not started (--no-start); start it with: ${manager.startByHand}\n`);
    noteSocket(host, io, serviceSocket);
    return ExitCode.ok;
  }
  try {
    io.out(`${await manager.start(existing !== undefined && !identical)}\n`);
  } catch (err) {
    throw toolFailure(
      err,
      `the service file was written to ${manager.file}; start it by hand with: ${manager.startByHand} (or run 'secrets-engine serve' yourself)`,
    );
  }
  noteSocket(host, io, serviceSocket);
  if (serviceSocket === undefined) return ExitCode.ok;
  const timeoutMs = host.startTimeoutMs ?? START_TIMEOUT_MS;
  const answer = await engineAnswer(serviceSocket, timeoutMs, true);
  if (answer.ok) {
    io.out(`engine ${answer.text} at ${serviceSocket}; logs: ${manager.logs}\n`);
    return ExitCode.ok;
  }
  throw new CliError(
    `the service started but no engine answers at ${serviceSocket} after ${timeoutMs / 1000} s (${answer.text}); see its logs: ${manager.logs}`,
    ExitCode.error,
  );
}

/** A word when the clients of this shell would not find the service's socket by default. */
function noteSocket(host: ServiceHost, io: Io, socket: string | undefined): void {
  if (socket === undefined) return;
  let clientDefault: string;
  try {
    clientDefault = defaultSocketPath(host.env, host.platform, host.uid);
  } catch {
    return;
  }
  if (clientDefault !== socket) {
    io.out(
      `note: the service's socket is ${socket}, but clients here default to ${clientDefault}: pass --socket ${socket} or set SECRETS_ENGINE_SOCKET=${socket}\n`,
    );
  }
}

function toolFailure(err: unknown, written: string): CliError {
  if (err instanceof ServiceToolError) {
    const what = err.noManager ? `no user service manager is reachable (${err.message})` : err.message;
    return new CliError(`${what}; ${written}`, ExitCode.error, { cause: err });
  }
  return new CliError(errorMessage(err), ExitCode.error, { cause: err });
}

/** Whether an engine answers a version call at `socket`; with `wait`, until it does or the time is up. */
async function engineAnswer(
  socket: string,
  timeoutMs: number,
  wait: boolean,
): Promise<{ ok: boolean; text: string }> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    const client = openClient(socket, Math.min(STATUS_TIMEOUT_MS, Math.max(1, deadline - Date.now())));
    try {
      const v = await client.version();
      return { ok: true, text: `${v.version} answers` };
    } catch (err) {
      last = errorMessage(err);
    } finally {
      client.close();
    }
    if (!wait || Date.now() >= deadline) return { ok: false, text: last };
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function uninstall(manager: ServiceManager, io: Io): Promise<number> {
  if (readIfExists(manager.file) === undefined) {
    throw new CliError(`not installed: ${manager.file} does not exist`, ExitCode.notFound);
  }
  let noManager: string | undefined;
  try {
    io.out(`${await manager.stop()}\n`);
  } catch (err) {
    if (!(err instanceof ServiceToolError && err.noManager)) {
      throw new CliError(`${errorMessage(err)}; ${manager.file} was left in place`, ExitCode.error, {
        cause: err,
      });
    }
    noManager = err.message;
  }
  try {
    rmSync(manager.file);
  } catch (err) {
    throw new CliError(`cannot remove ${manager.file}: ${errorMessage(err)}`, ExitCode.error, { cause: err });
  }
  try {
    await manager.afterRemove();
  } catch (err) {
    if (!(err instanceof ServiceToolError && err.noManager)) {
      throw new CliError(`removed ${manager.file}, then: ${errorMessage(err)}`, ExitCode.error, {
        cause: err,
      });
    }
  }
  if (noManager !== undefined)
    io.out(`no user service manager is reachable (${noManager}): nothing to stop\n`);
  io.out(`removed ${manager.file}\n`);
  return ExitCode.ok;
}

async function status(manager: ServiceManager, io: Io): Promise<number> {
  const text = readIfExists(manager.file);
  if (text === undefined) {
    io.out(`installed: no (${manager.file} does not exist)\n`);
    return ExitCode.notFound;
  }
  io.out(`installed: ${manager.file}\n`);
  let active = false;
  try {
    const state = await manager.state();
    active = state.active;
    io.out(`service: ${state.text}\n`);
  } catch (err) {
    io.out(
      `service: unknown: ${err instanceof ServiceToolError && err.noManager ? 'no user service manager is reachable: ' : ''}${errorMessage(err)}\n`,
    );
  }
  const socket = manager.socketOf(text);
  let answers = false;
  if (socket === undefined) io.out('socket: unknown (the service file names no --socket)\n');
  else {
    const answer = await engineAnswer(socket, STATUS_TIMEOUT_MS, false);
    answers = answer.ok;
    io.out(`socket: ${socket}\nengine: ${answer.ok ? answer.text : `not reachable: ${answer.text}`}\n`);
  }
  io.out(`logs: ${manager.logs}\n`);
  return active && answers ? ExitCode.ok : ExitCode.unavailable;
}
