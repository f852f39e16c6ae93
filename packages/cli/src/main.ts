// Command dispatch. Returns the exit code; throws CliError for failures the user can act on.
import { getCommand } from './commands/get.js';
import { injectCommand } from './commands/inject.js';
import { pluginsCommand } from './commands/plugins.js';
import { readCommand } from './commands/read.js';
import { runCommand } from './commands/run.js';
import { serveCommand } from './commands/serve.js';
import { versionCommand } from './commands/version.js';
import { ExitCode, UsageError } from './errors.js';
import { COMMAND_HELP, MAIN_HELP } from './help.js';
import type { Io } from './io.js';

type Command = (args: string[], io: Io) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  serve: serveCommand,
  get: getCommand,
  read: readCommand,
  inject: injectCommand,
  plugins: pluginsCommand,
  run: runCommand,
  version: versionCommand,
  help: async (args, io) => {
    const [topic] = args;
    if (topic === undefined || topic === '-h' || topic === '--help') {
      io.out(MAIN_HELP);
      return ExitCode.ok;
    }
    const text = COMMAND_HELP[topic];
    if (text === undefined) throw new UsageError(`unknown command ${JSON.stringify(topic)}`);
    io.out(text);
    return ExitCode.ok;
  },
};

export async function main(argv: string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.err(MAIN_HELP);
    return ExitCode.usage;
  }
  if (first === '-h' || first === '--help') {
    io.out(MAIN_HELP);
    return ExitCode.ok;
  }
  if (first === '-V' || first === '--version') return versionCommand(rest, io);
  if (first.startsWith('-')) throw new UsageError(`unknown flag ${first} (flags go after the command)`);
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (command === undefined) {
    const suggestion = suggest(first);
    throw new UsageError(
      `unknown command ${JSON.stringify(first)}${suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`}`,
    );
  }
  return command(rest, io);
}

/** The closest command name within two edits, if any. */
function suggest(input: string): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of Object.keys(COMMANDS)) {
    const distance = editDistance(input, name);
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}
