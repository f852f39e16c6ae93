// secrets-engine run [--socket P] [--env-file F]... -- CMD [ARGS...]
//
// The child's environment: process.env, then each env file in order (later wins). Every variable
// whose value is exactly `se://ID` is replaced by the secret's text. Every reference is resolved
// before anything starts; one failure and nothing starts, and one line names every unresolved
// reference. The command runs in its own process group, signals are forwarded to the group, and we
// exit with its exit code (128+N for signal N).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { parseEnv } from 'node:util';
import { EngineUnavailableError, isNotFoundError, ProviderFailedError } from '@secrets-engine/client';
import { type CoreDumpOptions, disableCoreDumps } from '@secrets-engine/runtime';
import { isValidId } from '@secrets-engine/secrets';
import { parseCommand, socketOption } from '../args.js';
import { openClient, socketFlag } from '../engine-client.js';
import { CliError, ExitCode, errorMessage, UsageError } from '../errors.js';
import { COMMAND_HELP } from '../help.js';
import type { Io } from '../io.js';
import { PROGRAM } from '../meta.js';

export const REFERENCE_PREFIX = 'se://';
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
/** Flags of `run` that take a value as the next argument (to find where CMD starts without `--`). */
const VALUE_FLAGS = new Set(['--socket', '-s', '--env-file', '-e']);

/** Splits `run`'s own flags from the command: at `--`, else at the first non-flag argument. */
export function splitRunArgs(args: string[]): { flags: string[]; command: string[] } {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return { flags: args.slice(0, i), command: args.slice(i + 1) };
    if (!arg.startsWith('-') || arg === '-') return { flags: args.slice(0, i), command: args.slice(i) };
    if (VALUE_FLAGS.has(arg)) i++;
  }
  return { flags: args, command: [] };
}

interface Unresolved {
  variable: string;
  id: string;
  reason: string;
}

export async function runCommand(args: string[], io: Io): Promise<number> {
  const split = splitRunArgs(args);
  const { values } = parseCommand('run', split.flags, {
    ...socketOption,
    'env-file': { type: 'string', short: 'e', multiple: true },
  });
  if (values.help) {
    io.out(COMMAND_HELP.run!);
    return ExitCode.ok;
  }
  const [file, ...argv] = split.command;
  if (file === undefined || file === '')
    throw new UsageError('missing the command to run (… run -- CMD [ARGS...])', 'run');

  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  for (const path of values['env-file'] ?? []) Object.assign(env, readEnvFile(path));

  // No core file of this process, which holds the values for as long as the command runs (issue 12
  // item 8). The soft limit only: the command inherits it and may raise it again. Non-dumpable
  // once resolved, not before: the engine reads /proc/<pid>/exe of each connection it accepts.
  coreDumps(io, { keepDumpable: true });
  await resolveReferences(env, socketFlag(values.socket), file);
  coreDumps(io, {});
  return spawnCommand(file, argv, env);
}

function coreDumps(io: Io, options: CoreDumpOptions): void {
  for (const problem of disableCoreDumps(options).problems) io.err(`${PROGRAM}: warning: ${problem}\n`);
}

function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ENOENT'
        ? `env file ${path} does not exist`
        : `cannot read env file ${path}: ${errorMessage(err)}`,
      ExitCode.error,
      { cause: err },
    );
  }
  const parsed = parseEnv(text);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) if (value !== undefined) out[key] = value;
  return out;
}

/** Replaces every `se://ID` value in `env` in place, or throws naming every unresolved reference. */
async function resolveReferences(env: Record<string, string>, socket: string | undefined, file: string) {
  const refs = Object.entries(env)
    .filter(([, value]) => value.startsWith(REFERENCE_PREFIX))
    .map(([variable, value]) => ({ variable, id: value.slice(REFERENCE_PREFIX.length) }));
  if (refs.length === 0) return;
  const unresolved: Unresolved[] = [];
  const ids = [...new Set(refs.map((r) => r.id).filter((id) => isValidId(id)))];
  const results = new Map<string, { text: string } | { reason: string }>();
  let unavailable: string | undefined;
  if (ids.length > 0) {
    const client = openClient(socket);
    try {
      await Promise.all(
        ids.map(async (id) => {
          try {
            // Only the exact ID (never another secret that matched, docs/security.md).
            const envelope = await client.getSecret(id);
            const text = envelope.revealText();
            results.set(id, text.includes('\0') ? { reason: 'the value contains a NUL byte' } : { text });
          } catch (err) {
            if (err instanceof EngineUnavailableError) {
              unavailable = err.message;
              results.set(id, { reason: 'engine not available' });
            } else if (err instanceof ProviderFailedError) {
              // It may exist: say which provider failed, never "not found".
              const which = err.failures.map((f) => `provider ${JSON.stringify(f.plugin)} ${f.message}`);
              results.set(id, { reason: which.length > 0 ? which.join('; ') : err.message });
            } else if (isNotFoundError(err)) {
              results.set(id, { reason: 'not found' });
            } else {
              results.set(id, { reason: errorMessage(err) });
            }
          }
        }),
      );
    } finally {
      client.close();
    }
  }
  for (const ref of refs) {
    const result = isValidId(ref.id) ? results.get(ref.id)! : { reason: 'invalid ID' };
    if ('text' in result) env[ref.variable] = result.text;
    else unresolved.push({ ...ref, reason: result.reason });
  }
  if (unresolved.length === 0) return;
  unresolved.sort((a, b) => (a.variable < b.variable ? -1 : a.variable > b.variable ? 1 : 0));
  const list = unresolved
    .map((u) => `${u.variable}=${JSON.stringify(REFERENCE_PREFIX + u.id)} (${u.reason})`)
    .join(', ');
  const n = unresolved.length;
  throw new CliError(
    `not starting ${file}: ${n} unresolved secret reference${n === 1 ? '' : 's'}: ${list}` +
      (unavailable === undefined ? '' : ` [${unavailable}]`),
    ExitCode.error,
  );
}

function spawnCommand(file: string, argv: string[], env: Record<string, string>): Promise<number> {
  return new Promise<number>((done, fail) => {
    const child = spawn(file, argv, { stdio: 'inherit', detached: true, env });
    let settled = false;
    const forward = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group is gone already
      }
    };
    const detach = () => {
      for (const signal of FORWARDED) process.off(signal, forward);
    };
    for (const signal of FORWARDED) process.on(signal, forward);
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      detach();
      if (err.code === 'ENOENT') {
        fail(new CliError(`command not found: ${file}`, ExitCode.commandNotFound, { cause: err }));
      } else if (err.code === 'EACCES' || err.code === 'EISDIR' || err.code === 'ENOEXEC') {
        fail(
          new CliError(
            `cannot execute ${file}: ${err.code === 'EACCES' ? 'permission denied' : err.code}`,
            ExitCode.cannotExecute,
            { cause: err },
          ),
        );
      } else {
        fail(
          new CliError(`cannot run ${file}: ${errorMessage(err)}`, ExitCode.cannotExecute, { cause: err }),
        );
      }
    });
    child.once('exit', (code, signal) => {
      if (settled) return;
      settled = true;
      detach();
      if (code !== null) done(code);
      else done(128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
}
