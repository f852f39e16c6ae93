// secrets-engine serve: the engine in the foreground, logs on stderr, one ready line on stdout,
// SIGINT/SIGTERM → engine.close() → exit 0, a second signal during shutdown → exit 130 at once,
// SIGHUP → the plugins folder read again (engine.reloadPlugins).
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  createEngine,
  createFileAuditSink,
  disableCoreDumps,
  type Engine,
  EngineAlreadyRunningError,
  type EngineOptions,
  rulesPolicy,
} from '@secrets-engine/runtime';
import { readAccessRules } from '../access-config.js';
import { parseCommand, positionals, socketOption } from '../args.js';
import { socketFlag } from '../engine-client.js';
import { CliError, ExitCode, errorMessage, UsageError } from '../errors.js';
import { COMMAND_HELP } from '../help.js';
import type { Io } from '../io.js';
import { createCliLogger, isLogLevel, LOG_LEVELS } from '../logger.js';
import { PROGRAM } from '../meta.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export async function serveCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parseCommand('serve', args, {
    ...socketOption,
    'plugins-dir': { type: 'string', short: 'd' },
    'no-launch': { type: 'boolean' },
    'no-external': { type: 'boolean' },
    'request-timeout': { type: 'string' },
    'registration-timeout': { type: 'string' },
    'log-level': { type: 'string' },
    'plugin-env': { type: 'string', multiple: true },
    access: { type: 'string' },
    'audit-log': { type: 'string' },
    'state-dir': { type: 'string' },
    cache: { type: 'string', multiple: true },
  });
  if (values.help) {
    io.out(COMMAND_HELP.serve!);
    return ExitCode.ok;
  }
  positionals('serve', rest, []);

  const level = values['log-level'] ?? 'info';
  if (!isLogLevel(level)) {
    throw new UsageError(
      `--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`,
      'serve',
    );
  }
  const options: EngineOptions = { logger: createCliLogger({ level }) };
  // No core file holds a secret the engine served (issue 12 item 8): the hard limit too, so the
  // plugins it launches inherit 0 and cannot raise it; non-dumpable. Done here, so not again in start().
  for (const problem of disableCoreDumps({ hardLimit: true }).problems) {
    options.logger!.warn('core dumps not disabled', { reason: problem });
  }
  options.allowCoreDumps = true;
  const socket = socketFlag(values.socket);
  if (socket !== undefined) options.socketPath = socket;
  const timeout = values['request-timeout'];
  if (timeout !== undefined) {
    if (!/^\d+$/.test(timeout)) {
      throw new UsageError(
        `--request-timeout must be a whole number of ms, got ${JSON.stringify(timeout)}`,
        'serve',
      );
    }
    options.requestTimeoutMs = Number(timeout);
  }
  const registration = values['registration-timeout'];
  if (registration !== undefined) {
    if (!/^[1-9]\d*$/.test(registration)) {
      throw new UsageError(
        `--registration-timeout must be a whole number of ms above 0, got ${JSON.stringify(registration)}`,
        'serve',
      );
    }
    options.registrationTimeoutMs = Number(registration);
  }
  const pluginEnv: Record<string, string> = {};
  for (const pair of values['plugin-env'] ?? []) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    if (eq === -1 || !ENV_NAME.test(key)) {
      throw new UsageError(`--plugin-env expects NAME=VALUE, got ${JSON.stringify(pair)}`, 'serve');
    }
    pluginEnv[key] = pair.slice(eq + 1);
  }
  if (Object.keys(pluginEnv).length > 0) options.pluginEnv = pluginEnv;
  const dir = values['plugins-dir'];
  if (dir !== undefined) {
    options.pluginsDir = resolve(dir);
    checkDirectory(options.pluginsDir);
  }
  const access = values.access;
  if (access !== undefined) options.access = { policy: rulesPolicy(readAccessRules(resolve(access))) };
  const auditLog = values['audit-log'];
  if (auditLog !== undefined) {
    try {
      options.audit = createFileAuditSink({ path: resolve(auditLog), logger: options.logger! });
    } catch (err) {
      throw new CliError(errorMessage(err), ExitCode.error, { cause: err });
    }
  }
  const stateDir = values['state-dir'];
  if (stateDir !== undefined) options.stateDir = resolve(stateDir);
  const cache: NonNullable<EngineOptions['cache']> = {};
  for (const pair of values.cache ?? []) {
    const m = /^([^=]+)=([1-9]\d*)$/.exec(pair);
    if (m === null) {
      throw new UsageError(
        `--cache expects PLUGIN=TTL_MS (a plugin name and a whole number of ms above 0), got ${JSON.stringify(pair)}`,
        'serve',
      );
    }
    cache[m[1]!] = { ttlMs: Number(m[2]) };
  }
  if (Object.keys(cache).length > 0) options.cache = cache;
  if (values['no-launch']) options.launchPlugins = false;
  if (values['no-external']) options.externalPlugins = false;

  let engine: Engine;
  try {
    engine = createEngine(options);
  } catch (err) {
    await options.audit?.close();
    throw new CliError(errorMessage(err), ExitCode.error, { cause: err });
  }
  return run(engine, io, options.logger!);
}

function checkDirectory(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ENOENT'
        ? `plugins folder ${dir} does not exist`
        : `cannot read plugins folder ${dir}: ${errorMessage(err)}`,
      ExitCode.error,
      { cause: err },
    );
  }
  if (!isDir) throw new CliError(`plugins folder ${dir} is not a folder`, ExitCode.error);
}

function run(engine: Engine, io: Io, logger: NonNullable<EngineOptions['logger']>): Promise<number> {
  return new Promise<number>((done, fail) => {
    let signals = 0;
    const detach = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onHangup);
    };
    const starting = engine.start();
    // SIGHUP (issue 16 item 4): read the plugins folder again — new plugins launched, removed ones
    // stopped, changed ones restarted, the others untouched. A failed reload changes nothing and
    // the engine serves on; during shutdown it is ignored.
    const onHangup = () => {
      if (signals > 0) return;
      logger.info('reloading', { signal: 'SIGHUP' });
      starting
        .then(() => engine.reloadPlugins())
        .catch((err: unknown) => {
          if (signals === 0) logger.error('reload failed, nothing changed', { error: errorMessage(err) });
        });
    };
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        detach();
        io.err(`${PROGRAM}: ${signal} during shutdown, exiting now\n`);
        done(ExitCode.interrupted);
        return;
      }
      logger.info('shutting down', { signal });
      // A signal during start: let start finish (each plugin is tried once, bounded), then close,
      // so no plugin it launched is left behind.
      starting
        .catch(() => {})
        .then(() => engine.close())
        .then(
          () => {
            logger.info('engine stopped');
            detach();
            done(ExitCode.ok);
          },
          (err: unknown) => {
            detach();
            fail(err);
          },
        );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onHangup);
    starting.then(
      () => {
        if (signals === 0) io.out(`${readyLine(engine)}\n`);
      },
      (err: unknown) => {
        if (signals > 0) return; // shutting down anyway
        detach();
        fail(
          err instanceof EngineAlreadyRunningError
            ? new CliError(`${err.message}; stop it first or use --socket`, ExitCode.error, { cause: err })
            : new CliError(errorMessage(err), ExitCode.error, { cause: err }),
        );
      },
    );
  });
}

function readyLine(engine: Engine): string {
  const plugins = engine.listPlugins();
  const running = plugins.filter((p) => p.status === 'running' && !p.disabled).map((p) => p.name);
  const failed = plugins
    .filter((p) => p.status !== 'running' && !p.disabled)
    .map((p) => `${p.name} (${p.status})`);
  const parts = [`plugins started: ${running.length === 0 ? 'none' : running.join(', ')}`];
  if (failed.length > 0) parts.push(`not running: ${failed.join(', ')}`);
  return `${PROGRAM} ready on ${engine.socketPath}; ${parts.join('; ')}`;
}
