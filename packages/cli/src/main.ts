// Command dispatch. Returns the exit code; throws CliError for failures the user can act on.
// Each command's module is loaded only when that command runs (issue 14: `--help` and `get` must
// not load the engine runtime, yamux and the plugin launcher; start-up is most of their wall time).
import { ExitCode, UsageError } from './errors.js';
import { COMMAND_HELP, MAIN_HELP } from './help.js';
import type { Io } from './io.js';

type Command = (args: string[], io: Io) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  serve: async (args, io) => (await import('./commands/serve.js')).serveCommand(args, io),
  get: async (args, io) => (await import('./commands/get.js')).getCommand(args, io),
  read: async (args, io) => (await import('./commands/read.js')).readCommand(args, io),
  inject: async (args, io) => (await import('./commands/inject.js')).injectCommand(args, io),
  plugins: async (args, io) => (await import('./commands/plugins.js')).pluginsCommand(args, io),
  logs: async (args, io) => (await import('./commands/logs.js')).logsCommand(args, io),
  run: async (args, io) => (await import('./commands/run.js')).runCommand(args, io),
  service: async (args, io) => (await import('./commands/service.js')).serviceCommand(args, io),
  version: async (args, io) => (await import('./commands/version.js')).versionCommand(args, io),
  completion: async (args, io) => (await import('./commands/completion.js')).completionCommand(args, io),
  // Hidden: what the completion scripts call for plugin names and IDs.
  __complete: async (args, io) => (await import('./commands/completion.js')).completeCommand(args, io),
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
  if (first === '-V' || first === '--version') return COMMANDS.version!(rest, io);
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
