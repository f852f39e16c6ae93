// secrets-engine logs [PLUGIN...] [-f] [-n N] [--level L] [--socket P | --state-dir DIR]
// A launched plugin's own output, read from the file the engine gives it (<state>/logs/<name>.log).
// No engine is needed: the logs of a crashed engine's plugins are readable too. One plugin's lines
// as written; several plugins' lines prefixed with the plugin's name. On a terminal, control
// characters a plugin wrote are shown escaped (a plugin does not get to drive the terminal).
import { resolve } from 'node:path';
import type { PluginLogLevel } from '@secrets-engine/runtime/logs';
import { defaultSocketPath, parsePluginName } from '@secrets-engine/secrets';
import { parseCommand, socketOption } from '../args.js';
import { socketFlag } from '../engine-client.js';
import { CliError, ExitCode, errorMessage, UsageError } from '../errors.js';
import { COMMAND_HELP } from '../help.js';
import type { Io } from '../io.js';
import { safeText } from '../text.js';

const LEVELS = ['error', 'warn', 'info', 'debug'];

export async function logsCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals: plugins } = parseCommand('logs', args, {
    ...socketOption,
    'state-dir': { type: 'string' },
    follow: { type: 'boolean', short: 'f' },
    tail: { type: 'string', short: 'n' },
    level: { type: 'string' },
  });
  if (values.help) {
    io.out(COMMAND_HELP.logs!);
    return ExitCode.ok;
  }
  for (const name of plugins) {
    try {
      parsePluginName(name);
    } catch (err) {
      throw new UsageError(`not a plugin name: ${errorMessage(err)}`, 'logs');
    }
  }
  let tail: number | undefined;
  if (values.tail !== undefined) {
    if (!/^\d+$/.test(values.tail) || !Number.isSafeInteger(Number(values.tail))) {
      throw new UsageError(
        `--tail must be a whole number of lines, got ${JSON.stringify(values.tail)}`,
        'logs',
      );
    }
    tail = Number(values.tail);
  }
  const level = values.level;
  if (level !== undefined && !LEVELS.includes(level)) {
    throw new UsageError(`--level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(level)}`, 'logs');
  }
  if (values['state-dir'] !== undefined && values.socket !== undefined) {
    throw new UsageError(
      '--state-dir and --socket both say where the logs are; give one (the state folder is <socket>.state unless serve was given --state-dir)',
      'logs',
    );
  }
  const { defaultStateDir, streamPluginLogs, atLeast, isPluginLogError } = await loadLogs();
  const stateDir =
    values['state-dir'] !== undefined
      ? resolve(values['state-dir'])
      : defaultStateDir(socketFlag(values.socket) ?? defaultSocketPath());

  const terminal = io.terminal('stdout') !== undefined;
  const show = terminal ? safeText : (line: string) => line;
  const prefixed = plugins.length !== 1;
  const ac = new AbortController();
  const stop = () => ac.abort();
  if (values.follow) {
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
  try {
    await streamPluginLogs({
      stateDir,
      ...(plugins.length > 0 ? { plugins } : {}),
      ...(tail === undefined ? {} : { tail }),
      follow: values.follow === true,
      signal: ac.signal,
      onLine: ({ plugin, line, level: lineLevel }) => {
        if (level !== undefined && !atLeast(lineLevel, level as PluginLogLevel)) return;
        io.out(prefixed ? `${plugin} | ${show(line)}\n` : `${show(line)}\n`);
      },
    });
  } catch (err) {
    if (isPluginLogError(err)) {
      const missing = err.message.startsWith('no log file for plugin');
      throw new CliError(err.message, missing ? ExitCode.notFound : ExitCode.error, { cause: err });
    }
    throw new CliError(errorMessage(err), ExitCode.error, { cause: err });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return ExitCode.ok;
}

async function loadLogs() {
  const m = await import('@secrets-engine/runtime/logs');
  return {
    defaultStateDir: m.defaultStateDir,
    streamPluginLogs: m.streamPluginLogs,
    atLeast: m.atLeast,
    isPluginLogError: (err: unknown): err is Error => err instanceof m.PluginLogError,
  };
}
