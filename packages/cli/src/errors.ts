// Errors of the CLI: every failure the user can act on is a CliError carrying its exit code, so
// bin.ts prints one line (`secrets-engine: <message>`) and exits with that code. Anything else is
// a bug or an unexpected condition: one line too, exit 1, with the stack only under
// SECRETS_ENGINE_DEBUG=1.

/** The exit codes of every command (documented in `secrets-engine --help` and the README). */
export const ExitCode = {
  ok: 0,
  /** Any other error (engine refused to start, I/O error, unresolved `run` references, ...). */
  error: 1,
  /** No secret matched (get), has the ID (read, inject), or no plugin has that name (plugins enable/disable). */
  notFound: 2,
  /** The engine is not available: the socket cannot be reached, it is busy, or it closed the connection before answering. */
  unavailable: 3,
  /** Not a valid secret pattern (get), ID (read: a pattern too), or template reference (inject). */
  invalidPattern: 4,
  /**
   * A plugin failed or missed its deadline. get: with other answers, they are printed and a warning
   * names each failed plugin; with none, the error does (never "not found": the secret may exist).
   * read, inject: no plugin had the ID and one failed.
   */
  providerFailed: 5,
  /** Bad command line: unknown command or flag, missing or malformed argument (sysexits EX_USAGE). */
  usage: 64,
  /** run: the command exists but cannot be executed. */
  cannotExecute: 126,
  /** run: the command was not found. */
  commandNotFound: 127,
  /** serve: a second SIGINT/SIGTERM arrived during shutdown (128 + SIGINT). */
  interrupted: 130,
} as const;

export class CliError extends Error {
  static {
    CliError.prototype.name = 'CliError';
  }
  readonly exitCode: number;
  /** A second line printed after the message, e.g. where to find usage. */
  readonly hint: string | undefined;
  constructor(message: string, exitCode: number, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = exitCode;
    this.hint = options.hint;
  }
}

/** A bad command line (exit 64), with a hint pointing at the right --help. */
export class UsageError extends CliError {
  static {
    UsageError.prototype.name = 'UsageError';
  }
  constructor(message: string, command?: string) {
    super(message, ExitCode.usage, {
      hint: `Run 'secrets-engine ${command === undefined ? '' : `${command} `}--help' for usage.`,
    });
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
