// secrets-engine plugins [ls|enable NAME|disable NAME] [--socket P] [--json] [--config FILE|--no-persist]
// secrets-engine plugins pin --plugins-dir DIR [--json]
// secrets-engine plugins install SPEC | uninstall NAME [--plugins-dir DIR] (plugins-install.ts)
import { resolve } from 'node:path';
import {
  PluginNotFoundError as ClientPluginNotFoundError,
  EngineUnavailableError,
  type PluginStatus,
  type SecretsClient,
} from '@secrets-engine/client';
import { type Logger, type PinResult, pinPlugins } from '@secrets-engine/runtime';
import { parseCommand, positionals, socketOption } from '../args.js';
import { ConfigFileError, readConfigFile, updateDisabledPlugins } from '../config.js';
import { fromClientError, openClient, socketFlag } from '../engine-client.js';
import { CliError, ExitCode, errorMessage, UsageError } from '../errors.js';
import { COMMAND_HELP } from '../help.js';
import type { Io } from '../io.js';
import { PROGRAM } from '../meta.js';
import { defaultConfigPath, defaultPluginsDir } from '../paths.js';
import { formatTable, safeText } from '../text.js';
import { installPlugin, uninstallPlugin } from './plugins-install.js';

/**
 * The wire has two flags (protocol.md §7.6, plugins.v1 Plugin): `external` (not in the engine's
 * process) and `configurable` (the engine manages its lifecycle; our engine sets it for builtin and
 * launched plugins, not for plugins started by hand). Together they give the kind.
 */
export function pluginKind(p: Pick<PluginStatus, 'external' | 'configurable'>): string {
  if (!p.external) return 'builtin';
  return p.configurable ? 'launched' : 'external';
}

export function pluginStatus(p: Pick<PluginStatus, 'disabled' | 'runStatus'>): string {
  if (p.disabled) return 'disabled';
  return p.runStatus === 'unspecified' ? 'unknown' : p.runStatus;
}

function toJson(p: PluginStatus) {
  return {
    name: p.name,
    // '' until the plugin registered (a launched plugin that crashed at once or was not launched).
    version: p.version === '' ? null : p.version,
    pattern: p.pattern ?? null,
    kind: pluginKind(p),
    status: pluginStatus(p),
    disabled: p.disabled,
    runStatus: p.runStatus,
    message: p.statusMessage,
  };
}

export async function pluginsCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parseCommand('plugins', args, {
    ...socketOption,
    json: { type: 'boolean' },
    'plugins-dir': { type: 'string', short: 'd' },
    config: { type: 'string' },
    'no-persist': { type: 'boolean' },
    name: { type: 'string' },
    bin: { type: 'string' },
    force: { type: 'boolean' },
  });
  if (values.help) {
    io.out(COMMAND_HELP.plugins!);
    return ExitCode.ok;
  }
  const [sub = 'ls', ...operands] = rest;
  if (
    sub !== 'ls' &&
    sub !== 'list' &&
    sub !== 'enable' &&
    sub !== 'disable' &&
    sub !== 'pin' &&
    sub !== 'install' &&
    sub !== 'uninstall'
  ) {
    throw new UsageError(
      `unknown plugins subcommand ${JSON.stringify(sub)} (use ls, enable, disable, pin, install or uninstall)`,
      'plugins',
    );
  }
  if (sub !== 'enable' && sub !== 'disable') {
    if (values['no-persist'] !== undefined) {
      throw new UsageError(
        `--no-persist is for plugins enable and disable only, not plugins ${sub}`,
        'plugins',
      );
    }
    if (values.config !== undefined && sub !== 'install' && sub !== 'uninstall') {
      throw new UsageError(
        `--config is for plugins enable, disable, install and uninstall only, not plugins ${sub}`,
        'plugins',
      );
    }
  }
  for (const flag of ['name', 'bin', 'force'] as const) {
    if (values[flag] !== undefined && sub !== 'install') {
      throw new UsageError(`--${flag} is for plugins install only, not plugins ${sub}`, 'plugins');
    }
  }
  if (sub === 'install' || sub === 'uninstall') {
    if (values.socket !== undefined) {
      throw new UsageError(
        `plugins ${sub} does not use --socket: it changes the files of --plugins-dir, no engine involved`,
        'plugins',
      );
    }
    const pluginsDir = installFolder(values['plugins-dir'], values.config);
    const json = values.json === true;
    if (sub === 'uninstall') {
      const [name] = positionals('plugins uninstall', operands, ['NAME']) as [string];
      return uninstallPlugin({ name, pluginsDir, json }, io);
    }
    const [spec] = positionals('plugins install', operands, ['PACKAGE']) as [string];
    return installPlugin(
      {
        spec,
        pluginsDir,
        name: values.name,
        bin: values.bin,
        force: values.force === true,
        json,
        logger: warningLogger(io),
      },
      io,
    );
  }
  if (sub === 'pin') {
    positionals('plugins pin', operands, []);
    if (values.socket !== undefined) {
      throw new UsageError(
        'plugins pin does not use --socket: it hashes the files of --plugins-dir, no engine involved',
        'plugins',
      );
    }
    const dir = values['plugins-dir'];
    if (dir === undefined) {
      throw new UsageError(
        'plugins pin needs --plugins-dir DIR (the folder serve launches plugins from)',
        'plugins',
      );
    }
    return pin(resolve(dir), values.json === true, io);
  }
  if (values['plugins-dir'] !== undefined) {
    throw new UsageError(
      `--plugins-dir is for plugins pin, install and uninstall only, not plugins ${sub}`,
      'plugins',
    );
  }
  if (sub === 'enable' || sub === 'disable') {
    const [name] = positionals(`plugins ${sub}`, operands, ['NAME']) as [string];
    if (values['no-persist'] && values.config !== undefined) {
      throw new UsageError('--no-persist writes no configuration file: do not give --config too', 'plugins');
    }
    return toggle(sub, name, {
      socket: socketFlag(values.socket),
      json: values.json === true,
      config: values['no-persist']
        ? undefined
        : values.config === undefined
          ? defaultConfigPath()
          : resolve(values.config),
      io,
    });
  }
  const client = openClient(socketFlag(values.socket));
  try {
    if (sub === 'ls' || sub === 'list') {
      positionals('plugins', operands, []);
      const plugins = await client.listPlugins();
      if (values.json) {
        io.out(`${JSON.stringify(plugins.map(toJson), null, 2)}\n`);
      } else {
        const rows = plugins.map((p) => [
          p.name,
          p.version === '' ? '-' : p.version,
          p.pattern ?? '-',
          pluginKind(p),
          pluginStatus(p),
          p.statusMessage,
        ]);
        io.out(`${formatTable(['NAME', 'VERSION', 'PATTERN', 'KIND', 'STATUS', 'MESSAGE'], rows)}\n`);
      }
      return ExitCode.ok;
    }
    throw new Error(`unreachable: plugins ${sub}`);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw fromClientError(err);
  } finally {
    client.close();
  }
}

/**
 * `plugins enable|disable NAME`: the running engine first, then (unless --no-persist) the
 * configuration file's `disabledPlugins`, so that the next `serve` starts the same way. With no
 * engine running, or one that has no plugin of that name, the file is still written and stderr
 * says so (exit 0). A configuration file serve would refuse is not rewritten, and then the engine
 * is not changed either.
 */
async function toggle(
  sub: 'enable' | 'disable',
  name: string,
  options: { socket: string | undefined; json: boolean; config: string | undefined; io: Io },
): Promise<number> {
  const { io, config } = options;
  if (config !== undefined) {
    try {
      readConfigFile(config, { required: false });
    } catch (err) {
      if (!(err instanceof ConfigFileError)) throw err;
      throw new CliError(`${err.message} (fix it, or use --no-persist)`, ExitCode.error, { cause: err });
    }
  }
  const client = openClient(options.socket);
  let engine: 'changed' | 'not running' | 'no such plugin' = 'changed';
  let plugin: PluginStatus | undefined;
  try {
    try {
      if (sub === 'enable') await client.enablePlugin(name);
      else await client.disablePlugin(name);
      if (options.json) plugin = await find(client, name);
    } catch (err) {
      if (config === undefined) throw fromClientError(err);
      if (err instanceof EngineUnavailableError) engine = 'not running';
      else if (err instanceof ClientPluginNotFoundError) engine = 'no such plugin';
      else throw fromClientError(err);
    }
  } finally {
    client.close();
  }
  let persisted: { changed: boolean; created: boolean } | undefined;
  if (config !== undefined) {
    try {
      persisted = updateDisabledPlugins(config, name, sub === 'disable');
    } catch (err) {
      const done = engine === 'changed' ? `the engine has the plugin ${sub}d, but ` : '';
      throw new CliError(`${done}${errorMessage(err)}`, ExitCode.error, { cause: err });
    }
  }
  if (engine === 'no such plugin' && persisted?.changed !== true) {
    // Nothing changed anywhere: most likely a misspelt name.
    throw new CliError(
      `plugin ${JSON.stringify(name)} not found, and not in ${config}'s disabledPlugins`,
      ExitCode.notFound,
    );
  }
  if (engine === 'not running') {
    io.err(
      `${PROGRAM}: no engine is running on its socket; ${JSON.stringify(name)} is ${sub}d from the next start (${config})\n`,
    );
  } else if (engine === 'no such plugin') {
    io.err(`${PROGRAM}: the running engine has no plugin ${JSON.stringify(name)}; recorded in ${config}\n`);
  }
  if (options.json) {
    io.out(`${JSON.stringify(plugin === undefined ? null : toJson(plugin), null, 2)}\n`);
    return ExitCode.ok;
  }
  if (engine === 'changed') io.out(`plugin ${JSON.stringify(name)} ${sub}d\n`);
  if (persisted !== undefined) {
    const verb = sub === 'disable' ? 'added to' : 'removed from';
    io.out(
      persisted.changed
        ? `${JSON.stringify(name)} ${verb} disabledPlugins in ${config}${persisted.created ? ' (created)' : ''}\n`
        : `${JSON.stringify(name)} was ${sub === 'disable' ? 'already' : 'not'} in disabledPlugins of ${config}\n`,
    );
  }
  return ExitCode.ok;
}

async function find(client: SecretsClient, name: string): Promise<PluginStatus | undefined> {
  return (await client.listPlugins()).find((p) => p.name === name);
}

/** `plugins pin`: hash every plugin executable of `dir`, write the pin file, say what changed. */
async function pin(dir: string, json: boolean, io: Io): Promise<number> {
  let result: PinResult;
  try {
    result = await pinPlugins(dir, { logger: warningLogger(io) });
  } catch (err) {
    throw new CliError(errorMessage(err), ExitCode.error, { cause: err });
  }
  if (result.replacedInvalid !== undefined) {
    io.err(`${PROGRAM}: warning: replaced an unusable pin file: ${safeText(result.replacedInvalid)}\n`);
  }
  if (json) {
    io.out(`${JSON.stringify({ ...result, replacedInvalid: result.replacedInvalid ?? null }, null, 2)}\n`);
    return ExitCode.ok;
  }
  const count = result.pins.length;
  if (count === 0) {
    io.out(
      `pinned no plugins in ${result.pinFile}: while it exists, the engine launches no plugin from ${dir}\n`,
    );
  } else {
    io.out(`pinned ${count} plugin${count === 1 ? '' : 's'} in ${result.pinFile}\n`);
    const rows = result.pins.map((p) => [
      p.name,
      p.sha256,
      p.change,
      p.realPath === p.path ? p.path : `${p.path} -> ${p.realPath}`,
    ]);
    io.out(`${formatTable(['NAME', 'SHA-256', 'CHANGE', 'FILE'], rows)}\n`);
  }
  for (const name of result.dropped)
    io.out(`dropped the pin of ${JSON.stringify(name)} (no longer in ${dir})\n`);
  io.out(
    `a running engine checks these pins at each plugin's next launch; 'secrets-engine plugins enable NAME' launches a plugin it refused\n`,
  );
  return ExitCode.ok;
}

/**
 * Discovery warnings as one line each, e.g. `secrets-engine: warning: skipping plugin with an
 * invalid name: file="bad\tname": parsing name: …` (attributes as JSON strings, the error as is).
 */
function warningLogger(io: Io): Logger {
  const warn = (message: string, attributes?: Record<string, unknown>) => {
    const parts = [message];
    for (const [key, value] of Object.entries(attributes ?? {})) {
      parts.push(key === 'error' ? String(value) : `${key}=${JSON.stringify(String(value))}`);
    }
    io.err(`${PROGRAM}: warning: ${safeText(parts.join(': '))}\n`);
  };
  const logger: Logger = { debug: () => {}, info: () => {}, warn, error: warn, child: () => logger };
  return logger;
}

/**
 * The folder `plugins install|uninstall` change: --plugins-dir, else the configuration file's
 * `pluginsDir` (--config, default defaultConfigPath()), else defaultPluginsDir() — the folder
 * `serve` launches from with the same flags.
 */
function installFolder(flag: string | undefined, config: string | undefined): string {
  if (flag !== undefined) return resolve(flag);
  try {
    const loaded = readConfigFile(config === undefined ? defaultConfigPath() : resolve(config), {
      required: config !== undefined,
    });
    return loaded.config.pluginsDir ?? defaultPluginsDir();
  } catch (err) {
    if (err instanceof ConfigFileError) throw new CliError(err.message, ExitCode.error, { cause: err });
    throw err;
  }
}
