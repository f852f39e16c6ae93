// secrets-engine completion bash|zsh|fish, and the hidden `__complete plugins|ids|references` the
// scripts call for plugin names and secret IDs from a running engine (completion.ts).
import { parseCommand, positionals, socketOption } from '../args.js';
import { completionScript, SHELLS, type Shell } from '../completion.js';
import { openClient, socketFlag } from '../engine-client.js';
import { ExitCode, UsageError } from '../errors.js';
import { COMMAND_HELP } from '../help.js';
import type { Io } from '../io.js';

/** A TAB waits at most this long for the engine. */
const COMPLETE_TIMEOUT_MS = 1_000;
const REFERENCE = 'se://';

export async function completionCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parseCommand('completion', args, {});
  if (values.help) {
    io.out(COMMAND_HELP.completion!);
    return ExitCode.ok;
  }
  const [shell] = positionals('completion', rest, ['SHELL']) as [string];
  if (!(SHELLS as readonly string[]).includes(shell)) {
    throw new UsageError(`unknown shell ${JSON.stringify(shell)} (use ${SHELLS.join(', ')})`, 'completion');
  }
  io.out(completionScript(shell as Shell));
  return ExitCode.ok;
}

/** Prints one candidate per line; prints nothing when there is no engine or it refuses. */
export async function completeCommand(args: string[], io: Io): Promise<number> {
  let parsed: ReturnType<typeof parseCommand<typeof socketOption>>;
  try {
    parsed = parseCommand('__complete', args, socketOption);
  } catch {
    return ExitCode.ok;
  }
  const [what, word = ''] = parsed.positionals;
  const client = openClient(socketFlag(parsed.values.socket), COMPLETE_TIMEOUT_MS);
  try {
    if (what === 'plugins') {
      for (const p of await client.listPlugins()) io.out(`${p.name}\n`);
    } else if (what === 'ids' || what === 'references') {
      const prefix =
        what === 'references' && word.startsWith(REFERENCE) ? word.slice(REFERENCE.length) : word;
      // Ask only below the folder typed so far: `myapp/db/pa` asks `myapp/db/**`.
      const slash = prefix.lastIndexOf('/');
      const pattern = slash === -1 ? '**' : `${prefix.slice(0, slash + 1)}**`;
      const ids = new Set((await client.getSecrets(pattern)).map((e) => e.id));
      for (const id of [...ids].sort()) {
        if (id.startsWith(prefix)) io.out(`${what === 'references' ? REFERENCE : ''}${id}\n`);
      }
    }
  } catch {
    // no engine, nothing found, an invalid pattern: no candidates
  } finally {
    client.close();
  }
  return ExitCode.ok;
}
