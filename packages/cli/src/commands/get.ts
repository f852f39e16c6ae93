// secrets-engine get PATTERN|se://PATTERN [--socket P] [--json] [--reveal]
//
// On a terminal, a request still running after a second names the plugins it waits for
// (wait-notice.ts), and the line is erased before the answer is printed.

import type { PluginFailure } from '@secrets-engine/client';
import type { Envelope } from '@secrets-engine/secrets';
import { parseCommand, positionals, socketOption } from '../args.js';
import { fromClientError, openClient, socketFlag } from '../engine-client.js';
import { CliError, ExitCode } from '../errors.js';
import { COMMAND_HELP } from '../help.js';
import type { Io } from '../io.js';
import { referencePattern } from '../reference.js';
import { formatTable } from '../text.js';
import { withWaitNotice } from '../wait-notice.js';

export async function getCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parseCommand('get', args, {
    ...socketOption,
    json: { type: 'boolean' },
    reveal: { type: 'boolean' },
    'no-cache': { type: 'boolean' },
  });
  if (values.help) {
    io.out(COMMAND_HELP.get!);
    return ExitCode.ok;
  }
  const [arg] = positionals('get', rest, ['PATTERN']) as [string];
  let pattern: string;
  try {
    pattern = referencePattern(arg); // before any I/O: exit 4 even without an engine
  } catch (err) {
    throw fromClientError(err);
  }
  const client = openClient(socketFlag(values.socket));
  let envelopes: Envelope[];
  let failures: readonly PluginFailure[];
  try {
    ({ envelopes, failures } = await withWaitNotice(
      io,
      client,
      [pattern],
      pattern,
      client.resolve(pattern, values['no-cache'] ? { noCache: true } : {}),
    ));
  } catch (err) {
    const cli = fromClientError(err);
    if (cli.exitCode === ExitCode.notFound) {
      throw new CliError(`no secret matches ${JSON.stringify(arg)}`, ExitCode.notFound, { cause: err });
    }
    throw cli;
  } finally {
    client.close();
  }
  envelopes.sort((a, b) => compare(a.id, b.id) || compare(a.provider, b.provider));
  // A partial answer: what was found, then a warning per failed plugin and exit 5.
  const done = () => {
    for (const f of failures)
      io.err(`secrets-engine: warning: plugin ${JSON.stringify(f.plugin)} ${f.message}\n`);
    return failures.length === 0 ? ExitCode.ok : ExitCode.providerFailed;
  };
  const reveal = values.reveal === true;
  if (values.json) {
    io.out(
      `${JSON.stringify(
        envelopes.map((e) => toJson(e, reveal)),
        null,
        2,
      )}\n`,
    );
    return done();
  }
  const headers = ['ID', 'PROVIDER', 'VERSION', 'EXPIRES', ...(reveal ? ['VALUE'] : [])];
  const rows = envelopes.map((e) => [
    e.id,
    e.provider || '-',
    e.version || '-',
    e.expiresAt?.toISOString() ?? '-',
    ...(reveal ? [e.revealText()] : []),
  ]);
  io.out(`${formatTable(headers, rows)}\n`);
  return done();
}

function toJson(e: Envelope, reveal: boolean) {
  return {
    id: e.id,
    provider: e.provider,
    version: e.version,
    createdAt: e.createdAt?.toISOString() ?? null,
    resolvedAt: e.resolvedAt?.toISOString() ?? null,
    expiresAt: e.expiresAt?.toISOString() ?? null,
    metadata: { ...e.metadata },
    ...(reveal ? { value: e.revealText() } : {}),
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
