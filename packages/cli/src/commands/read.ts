// secrets-engine read se://ID [--newline] [--force] [--socket P]
//
// Prints exactly the value of one secret, for `$(…)` and pipes: its bytes, no newline unless
// --newline. One exact ID: a pattern is refused (exit 4), and only an envelope with that very ID
// counts (client.getSecret). A value that is not UTF-8 text or holds control characters (an ANSI
// escape can retitle the terminal, write the clipboard, fake output) is not written to a terminal
// unless --force.
import { type Envelope, isInvalidPatternError, isNotFoundError } from '@secrets-engine/client';
import { parseCommand, positionals, socketOption } from '../args.js';
import { fromClientError, openClient, socketFlag } from '../engine-client.js';
import { CliError, ExitCode } from '../errors.js';
import { COMMAND_HELP } from '../help.js';
import type { Io } from '../io.js';
import { quote, REFERENCE_PREFIX, referenceId } from '../reference.js';
import { withWaitNotice } from '../wait-notice.js';

export async function readCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parseCommand('read', args, {
    ...socketOption,
    newline: { type: 'boolean' },
    force: { type: 'boolean' },
    'no-cache': { type: 'boolean' },
  });
  if (values.help) {
    io.out(COMMAND_HELP.read!);
    return ExitCode.ok;
  }
  const [reference] = positionals('read', rest, ['REFERENCE']) as [string];
  const id = referenceId(reference, 'read'); // before any I/O: exit 4 even without an engine
  const client = openClient(socketFlag(values.socket));
  let envelope: Envelope;
  try {
    envelope = await withWaitNotice(
      io,
      client,
      [id],
      REFERENCE_PREFIX + id,
      client.getSecret(id, values['no-cache'] ? { noCache: true } : {}),
    );
  } catch (err) {
    // The engine's own `invalid_argument` for an ID it does not accept (another engine's rules).
    if (isInvalidPatternError(err)) {
      throw new CliError(
        `invalid secret reference ${quote(reference)}: ${err.message}`,
        ExitCode.invalidPattern,
        {
          cause: err,
        },
      );
    }
    if (isNotFoundError(err)) {
      throw new CliError(`no secret has the ID ${JSON.stringify(id)}`, ExitCode.notFound, { cause: err });
    }
    throw fromClientError(err);
  } finally {
    client.close();
  }
  const value = envelope.revealValue();
  if (values.force !== true && io.terminal('stdout') !== undefined) {
    const unsafe = terminalProblem(value);
    if (unsafe !== undefined) {
      throw new CliError(
        `not writing the value of ${REFERENCE_PREFIX}${id} to the terminal: ${unsafe}; ` +
          'redirect stdout (> FILE, | COMMAND) or pass --force',
        ExitCode.error,
      );
    }
  }
  io.outBytes(value);
  if (values.newline === true) io.out('\n');
  return ExitCode.ok;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Why `bytes` may not go to a terminal as they are, or undefined: not UTF-8, or a control
 * character other than tab, newline and carriage return (C0, DEL, C1). Never says which bytes.
 */
export function terminalProblem(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return 'it is binary (not UTF-8 text)';
  }
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || (c >= 0x7f && c <= 0x9f)) {
      return 'it contains control characters (other than tab and newline), which drive a terminal';
    }
  }
  return undefined;
}
