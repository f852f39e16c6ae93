#!/usr/bin/env node
// The `secrets-engine` executable. Every failure ends as one line on stderr,
// `secrets-engine: <message>` (plus a hint line for usage errors), never a stack trace unless
// SECRETS_ENGINE_DEBUG=1.
// First: no debugger, before any other module runs (no-debugger.ts).
import './no-debugger.js';
import { CliError, ExitCode, errorMessage } from './errors.js';
import { processIo } from './io.js';
import { main } from './main.js';
import { PROGRAM } from './meta.js';

const debug = process.env.SECRETS_ENGINE_DEBUG === '1';

function exit(code: number): void {
  process.exitCode = code;
  // Pipes are asynchronous outside Linux: exit once what was written has been flushed.
  let pending = 2;
  const flushed = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', flushed);
  process.stderr.write('', flushed);
}

function fail(err: unknown): void {
  const code = err instanceof CliError ? err.exitCode : ExitCode.error;
  const lines = [`${PROGRAM}: ${errorMessage(err).split('\n')[0]}`];
  if (err instanceof CliError && err.hint !== undefined) lines.push(err.hint);
  if (debug) {
    // The whole cause chain, for bug reports.
    for (let e: unknown = err, depth = 0; e !== undefined && depth < 8; depth++) {
      lines.push(
        `${depth === 0 ? '' : 'caused by: '}${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      );
      e = e instanceof Error ? e.cause : undefined;
    }
  }
  process.stderr.write(`${lines.join('\n')}\n`);
  exit(code);
}

// A reader that went away (`secrets-engine get ... | head -1`) is not an error: later writes are
// dropped and the command ends as it would have (serve still shuts its plugins down cleanly).
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') fail(err);
});
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

main(process.argv.slice(2), processIo).then(exit, fail);
