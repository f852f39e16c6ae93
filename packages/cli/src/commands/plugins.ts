// secrets-engine plugins [ls|enable NAME|disable NAME] [--socket P] [--json]
import type { PluginStatus, SecretsClient } from '@secrets-engine/client';
import { parseCommand, positionals, socketOption } from '../args.js';
import { fromClientError, openClient, socketFlag } from '../engine-client.js';
import { CliError, ExitCode, UsageError } from '../errors.js';
import { COMMAND_HELP } from '../help.js';
import type { Io } from '../io.js';
import { formatTable } from '../text.js';

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
    version: p.version,
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
  });
  if (values.help) {
    io.out(COMMAND_HELP.plugins!);
    return ExitCode.ok;
  }
  const [sub = 'ls', ...operands] = rest;
  if (sub !== 'ls' && sub !== 'list' && sub !== 'enable' && sub !== 'disable') {
    throw new UsageError(
      `unknown plugins subcommand ${JSON.stringify(sub)} (use ls, enable or disable)`,
      'plugins',
    );
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
          p.version,
          p.pattern ?? '-',
          pluginKind(p),
          pluginStatus(p),
          p.statusMessage,
        ]);
        io.out(`${formatTable(['NAME', 'VERSION', 'PATTERN', 'KIND', 'STATUS', 'MESSAGE'], rows)}\n`);
      }
      return ExitCode.ok;
    }
    const [name] = positionals(`plugins ${sub}`, operands, ['NAME']) as [string];
    if (sub === 'enable') await client.enablePlugin(name);
    else await client.disablePlugin(name);
    if (values.json) {
      const plugin = await find(client, name);
      io.out(`${JSON.stringify(plugin === undefined ? null : toJson(plugin), null, 2)}\n`);
    } else {
      io.out(`plugin ${JSON.stringify(name)} ${sub}d\n`);
    }
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw fromClientError(err);
  } finally {
    client.close();
  }
}

async function find(client: SecretsClient, name: string): Promise<PluginStatus | undefined> {
  return (await client.listPlugins()).find((p) => p.name === name);
}
