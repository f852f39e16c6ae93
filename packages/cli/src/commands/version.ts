// secrets-engine version [--socket P]
import { parseCommand, positionals, socketOption } from '../args.js';
import { openClient, socketFlag } from '../engine-client.js';
import { ExitCode, errorMessage } from '../errors.js';
import { COMMAND_HELP } from '../help.js';
import type { Io } from '../io.js';
import { cliVersion, PROGRAM } from '../meta.js';

/** How long `version` waits for an engine before reporting it unreachable. */
const ENGINE_TIMEOUT_MS = 2_000;

export async function versionCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parseCommand('version', args, socketOption);
  if (values.help) {
    io.out(COMMAND_HELP.version!);
    return ExitCode.ok;
  }
  positionals('version', rest, []);
  io.out(`${PROGRAM} CLI ${cliVersion()}\n`);
  const client = openClient(socketFlag(values.socket), ENGINE_TIMEOUT_MS);
  try {
    const engine = await client.version();
    io.out(`engine ${engine.version} at ${client.socketPath}\n`);
  } catch (err) {
    io.out(`engine not reachable: ${errorMessage(err)}\n`);
  } finally {
    client.close();
  }
  return ExitCode.ok;
}
