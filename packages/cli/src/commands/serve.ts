// secrets-engine serve: the engine in the foreground, logs on stderr, one ready line on stdout,
// SIGINT/SIGTERM → engine.close() → exit 0, a second signal during shutdown → exit 130 at once,
// SIGHUP → the configuration file and the plugins folder read again (reload, engine.reloadPlugins).
// The configuration file (--config, default defaultConfigPath()) is config.ts; flags override it.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  createEngine,
  createFileAuditSink,
  disableCoreDumps,
  type Engine,
  EngineAlreadyRunningError,
  type EngineOptions,
  type Logger,
  rulesPolicy,
} from '@secrets-engine/runtime';
import { readAccessRules } from '../access-config.js';
import { parseCommand, positionals, socketOption } from '../args.js';
import { BuiltinConfigError, type LoadedBuiltins, loadBuiltins } from '../builtins.js';
import {
  CONFIG_KEYS,
  ConfigFileError,
  type ConfigKey,
  type LoadedConfig,
  readConfigFile,
  type ServeConfig,
} from '../config.js';
import { socketFlag } from '../engine-client.js';
import { CliError, ExitCode, errorMessage, UsageError } from '../errors.js';
import { COMMAND_HELP } from '../help.js';
import type { Io } from '../io.js';
import { createCliLogger, isLogLevel, LOG_LEVELS, type LogLevel } from '../logger.js';
import { PROGRAM } from '../meta.js';
import { defaultConfigPath, defaultPluginsDir } from '../paths.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export async function serveCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parseCommand('serve', args, {
    ...socketOption,
    config: { type: 'string' },
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

  const flagLevel = values['log-level'];
  if (flagLevel !== undefined && !isLogLevel(flagLevel)) {
    throw new UsageError(
      `--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(flagLevel)}`,
      'serve',
    );
  }
  // The configuration file (issue 15 item 3; docs/configuration.md): flags override it.
  const source: ConfigSource = {
    path: values.config === undefined ? defaultConfigPath() : resolve(values.config),
    required: values.config !== undefined,
  };
  const loaded = readConfig(source);
  const config = loaded.config;
  const level = flagLevel ?? config.logLevel ?? 'info';
  const options: EngineOptions = { logger: createCliLogger({ level: level as LogLevel }) };
  const logger = options.logger!;
  // The keys a flag set: a change of them in the file means nothing until the flag goes.
  const fromFlags = new Set<ConfigKey>();
  // No core file holds a secret the engine served (issue 12 item 8): the hard limit too, so the
  // plugins it launches inherit 0 and cannot raise it; non-dumpable. Done here, so not again in start().
  for (const problem of disableCoreDumps({ hardLimit: true }).problems) {
    logger.warn('core dumps not disabled', { reason: problem });
  }
  options.allowCoreDumps = true;
  // Said once the engine is up: a serve that fails to start prints only its error.
  const notices: (() => void)[] = [
    loaded.file === undefined
      ? () => logger.debug('no configuration file', { file: source.path })
      : () => logger.info('configuration read', { file: source.path }),
  ];
  const socket = socketFlag(values.socket);
  if (socket !== undefined) fromFlags.add('socket');
  const socketPath = socket ?? config.socket;
  if (socketPath !== undefined) options.socketPath = socketPath;
  const timeout = values['request-timeout'];
  if (timeout !== undefined) {
    if (!/^\d+$/.test(timeout)) {
      throw new UsageError(
        `--request-timeout must be a whole number of ms, got ${JSON.stringify(timeout)}`,
        'serve',
      );
    }
    options.requestTimeoutMs = Number(timeout);
    fromFlags.add('requestTimeoutMs');
  } else if (config.requestTimeoutMs !== undefined) options.requestTimeoutMs = config.requestTimeoutMs;
  const registration = values['registration-timeout'];
  if (registration !== undefined) {
    if (!/^[1-9]\d*$/.test(registration)) {
      throw new UsageError(
        `--registration-timeout must be a whole number of ms above 0, got ${JSON.stringify(registration)}`,
        'serve',
      );
    }
    options.registrationTimeoutMs = Number(registration);
    fromFlags.add('registrationTimeoutMs');
  } else if (config.registrationTimeoutMs !== undefined) {
    options.registrationTimeoutMs = config.registrationTimeoutMs;
  }
  if (flagLevel !== undefined) fromFlags.add('logLevel');
  // pluginEnv and cache: the file's entries, each overridden by a flag for the same name.
  const pluginEnv: Record<string, string> = { ...config.pluginEnv };
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
    fromFlags.add('pluginsDir');
  } else if (config.pluginsDir !== undefined) {
    options.pluginsDir = config.pluginsDir;
    checkDirectory(options.pluginsDir, `${where(loaded, 'pluginsDir')}key "pluginsDir": `);
  } else {
    // The default folder may be missing: then nothing is launched.
    const fallback = defaultPluginsDir();
    if (isDirectory(fallback)) options.pluginsDir = fallback;
    else
      notices.push(() => logger.info('no plugins folder; no plugins are launched', { pluginsDir: fallback }));
  }
  const access = values.access ?? config.access;
  if (values.access !== undefined) fromFlags.add('access');
  if (access !== undefined) options.access = { policy: rulesPolicy(readAccessRules(resolve(access))) };
  const stateDir = values['state-dir'];
  if (stateDir !== undefined) {
    options.stateDir = resolve(stateDir);
    fromFlags.add('stateDir');
  } else if (config.stateDir !== undefined) options.stateDir = config.stateDir;
  const cache: NonNullable<EngineOptions['cache']> = { ...config.cache };
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
  if (values['no-launch']) {
    options.launchPlugins = false;
    fromFlags.add('launchPlugins');
  } else if (config.launchPlugins !== undefined) options.launchPlugins = config.launchPlugins;
  if (values['no-external']) {
    options.externalPlugins = false;
    fromFlags.add('externalPlugins');
  } else if (config.externalPlugins !== undefined) options.externalPlugins = config.externalPlugins;
  if (config.disabledPlugins !== undefined) options.disabledPlugins = config.disabledPlugins;

  let builtins: LoadedBuiltins | undefined;
  if (config.builtins !== undefined && Object.keys(config.builtins).length > 0) {
    try {
      builtins = await loadBuiltins(config.builtins, logger);
    } catch (err) {
      if (!(err instanceof BuiltinConfigError)) throw err;
      throw new CliError(`${where(loaded, 'builtins')}key "${err.key}": ${err.message}`, ExitCode.error, {
        cause: err,
      });
    }
    options.plugins = builtins.plugins;
    // A builtin and a launched plugin cannot share a name: refused here, not found out later.
    if (options.pluginsDir !== undefined && options.launchPlugins !== false) {
      for (const plugin of builtins.plugins) {
        if (existsSync(join(options.pluginsDir, plugin.name))) {
          builtins.close();
          throw new CliError(
            `${where(loaded, 'builtins')}the builtin plugin ${JSON.stringify(plugin.name)} has the name of the plugin ${join(options.pluginsDir, plugin.name)}; give the builtin another "name" or remove that plugin`,
            ExitCode.error,
          );
        }
      }
    }
  }
  const auditLog = values['audit-log'] ?? config.auditLog;
  if (values['audit-log'] !== undefined) fromFlags.add('auditLog');
  if (auditLog !== undefined) {
    try {
      options.audit = createFileAuditSink({ path: resolve(auditLog), logger });
    } catch (err) {
      builtins?.close();
      throw new CliError(errorMessage(err), ExitCode.error, { cause: err });
    }
  }

  let engine: Engine;
  try {
    engine = createEngine(options);
  } catch (err) {
    builtins?.close();
    await options.audit?.close();
    throw new CliError(errorMessage(err), ExitCode.error, { cause: err });
  }
  try {
    return await run(engine, io, logger, { source, config, fromFlags }, notices);
  } finally {
    builtins?.close();
  }
}

/** Where serve reads its configuration (again on SIGHUP). */
interface ConfigSource {
  path: string;
  /** Given by --config: it must exist. The default file may be missing. */
  required: boolean;
}

function readConfig(source: ConfigSource): LoadedConfig {
  try {
    return readConfigFile(source.path, { required: source.required });
  } catch (err) {
    if (err instanceof ConfigFileError) throw new CliError(err.message, ExitCode.error, { cause: err });
    throw err;
  }
}

/** `FILE:LINE:COL: ` of a top-level key of the configuration, or '' when it is not from there. */
function where(loaded: LoadedConfig, key: ConfigKey): string {
  const at = loaded.positions[key];
  return loaded.file === undefined || at === undefined ? '' : `${loaded.file}:${at.line}:${at.column}: `;
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function checkDirectory(dir: string, prefix = ''): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ENOENT'
        ? `${prefix}plugins folder ${dir} does not exist`
        : `${prefix}cannot read plugins folder ${dir}: ${errorMessage(err)}`,
      ExitCode.error,
      { cause: err },
    );
  }
  if (!isDir) throw new CliError(`${prefix}plugins folder ${dir} is not a folder`, ExitCode.error);
}

/** What SIGHUP compares the configuration file with. */
interface Reloadable {
  source: ConfigSource;
  /** The configuration the engine runs with: the file at start, with the disabledPlugins applied since. */
  config: ServeConfig;
  fromFlags: ReadonlySet<ConfigKey>;
}

/**
 * SIGHUP (issue 16 item 4): the configuration file read again, then the plugins folder. A file that
 * does not read or validate changes nothing of the configuration (the error is logged, FILE:LINE:COL);
 * `disabledPlugins` is applied live; any other key that changed is logged "needs a restart: KEY"
 * (or ignored when a flag sets it). The plugins folder is read again either way.
 */
async function reload(engine: Engine, logger: Logger, state: Reloadable): Promise<void> {
  let next: ServeConfig | undefined;
  try {
    next = readConfigFile(state.source.path, { required: state.source.required }).config;
  } catch (err) {
    if (!(err instanceof ConfigFileError)) throw err;
    logger.error('configuration not reloaded, the running one is kept', { error: err.message });
  }
  if (next !== undefined) {
    const before = state.config;
    // The keys that need a restart stay as the engine started with them: a later SIGHUP compares
    // with what runs (an edit undone is no longer reported), only disabledPlugins moves on.
    const { disabledPlugins: _, ...running } = before;
    state.config =
      next.disabledPlugins === undefined ? running : { ...running, disabledPlugins: next.disabledPlugins };
    for (const key of CONFIG_KEYS) {
      if (JSON.stringify(before[key]) === JSON.stringify(next[key])) continue;
      if (key === 'disabledPlugins') {
        const changed = await engine.setDisabledPlugins(next.disabledPlugins ?? []);
        logger.info('disabled plugins applied', {
          disabled: changed.disabled.join(',') || '-',
          enabled: changed.enabled.join(',') || '-',
        });
      } else if (state.fromFlags.has(key)) {
        logger.info(
          `configuration key ${key} changed; a command-line flag sets it, the file's value is not used`,
        );
      } else {
        logger.warn(`needs a restart: ${key}`);
      }
    }
    logger.info('configuration reloaded', { file: state.source.path });
  }
  await engine.reloadPlugins();
}

function run(
  engine: Engine,
  io: Io,
  logger: Logger,
  state: Reloadable,
  notices: readonly (() => void)[],
): Promise<number> {
  return new Promise<number>((done, fail) => {
    let signals = 0;
    const detach = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onHangup);
    };
    const starting = engine.start();
    // SIGHUP (issue 16 item 4): the configuration file, then the plugins folder — new plugins
    // launched, removed ones stopped, changed ones restarted, the others untouched. A failed
    // reload changes nothing and the engine serves on; during shutdown it is ignored.
    const onHangup = () => {
      if (signals > 0) return;
      logger.info('reloading', { signal: 'SIGHUP' });
      starting
        .then(() => reload(engine, logger, state))
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
        if (signals > 0) return;
        for (const notice of notices) notice();
        io.out(`${readyLine(engine)}\n`);
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
