// secrets-engine run [--socket P] [--env-file F]... [--no-masking] -- CMD [ARGS...]
//
// The child's environment: process.env, then each env file in order (later wins). Every variable
// whose value is exactly `se://ID`, or `se://PATTERN` matching exactly one secret, is replaced by
// the secret's text. Every reference is resolved before anything starts; one failure and nothing
// starts, and one line names every unresolved reference.
//
// The command runs in this process's process group, so it keeps the controlling terminal: /dev/tty
// works (ssh, sudo, gpg prompts) and the terminal's signals (Ctrl-C, Ctrl-\, Ctrl-Z) reach it and
// us alike. We survive Ctrl-C and wait for the command; Ctrl-Z stops us both (default action) and
// `fg` resumes both. Signals sent to us (not from the terminal) are forwarded to the command (to
// its process group when it made one). We exit with its exit code (128+N for signal N).
//
// Masking (default, unless --no-masking): the command's stdout and stderr are pipes through a
// Masker (mask.ts) that replaces every resolved value and its obvious encodings; its stdin stays
// ours (the terminal). With nothing to mask, or --no-masking, all three are ours as they are.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { EngineUnavailableError, isNotFoundError, ProviderFailedError } from '@secrets-engine/client';
import {
  type ControllingTerminal,
  type CoreDumpOptions,
  disableCoreDumps,
  openControllingTerminal,
} from '@secrets-engine/runtime';
import { type Envelope, isValidId, isValidPattern } from '@secrets-engine/secrets';
import { parseCommand, socketOption } from '../args.js';
import { openClient, socketFlag } from '../engine-client.js';
import { readEnvFiles } from '../env-file.js';
import { CliError, ExitCode, errorMessage, UsageError } from '../errors.js';
import { COMMAND_HELP } from '../help.js';
import type { Io } from '../io.js';
import { MaskMatcher, maskingStream } from '../mask.js';
import { PROGRAM } from '../meta.js';

export const REFERENCE_PREFIX = 'se://';
/** Signals forwarded to the command when they are sent to us. */
const FORWARDED: NodeJS.Signals[] = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
];
/**
 * Signals a terminal sends to its whole foreground process group: when we are that group, the
 * command (in our group) got it already, and forwarding it would deliver it twice.
 */
const FROM_TERMINAL = new Set<NodeJS.Signals>(['SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGWINCH']);
/** Flags of `run` that take a value as the next argument (to find where CMD starts without `--`). */
const VALUE_FLAGS = new Set(['--socket', '-s', '--env-file', '-e']);
/** How many matched IDs an ambiguous pattern reference names. */
const LISTED_MATCHES = 5;

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
  reference: string;
  reason: string;
}

export async function runCommand(args: string[], io: Io): Promise<number> {
  const split = splitRunArgs(args);
  const { values } = parseCommand('run', split.flags, {
    ...socketOption,
    'env-file': { type: 'string', short: 'e', multiple: true },
    'no-masking': { type: 'boolean' },
  });
  if (values.help) {
    io.out(COMMAND_HELP.run!);
    return ExitCode.ok;
  }
  const [file, ...argv] = split.command;
  if (file === undefined || file === '')
    throw new UsageError('missing the command to run (… run -- CMD [ARGS...])', 'run');
  refuseNodeReadEnvFile();

  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  Object.assign(env, await readEnvFiles(values['env-file'] ?? []));

  // No core file of this process, which holds the values for as long as the command runs (issue 12
  // item 8). The soft limit only: the command inherits it and may raise it again. Non-dumpable
  // once resolved, not before: the engine reads /proc/<pid>/exe of each connection it accepts.
  coreDumps(io, { keepDumpable: true });
  const secrets = await resolveReferences(env, socketFlag(values.socket), file);
  coreDumps(io, {});
  const masked = values['no-masking'] === true ? [] : secrets.map((text) => Buffer.from(text, 'utf8'));
  return spawnCommand(file, argv, env, masked, io);
}

function coreDumps(io: Io, options: CoreDumpOptions): void {
  for (const problem of disableCoreDumps(options).problems) io.err(`${PROGRAM}: warning: ${problem}\n`);
}

/**
 * Node.js 20 treats `--env-file` anywhere before a `--` on its own command line as its own option
 * (nodejs/node#54232): it read the file into THIS process (NODE_OPTIONS from it included) before
 * any of our code ran, or exited 9 for a missing file. The `secrets-engine` executable starts Node
 * as `node -- bin.js ARGS`, which it does not do; started as `node bin.js run --env-file F`, it did,
 * and we refuse to go on with an environment we did not build. Linux only (/proc/self/cmdline).
 */
function refuseNodeReadEnvFile(): void {
  // Node looks at its whole command line up to the first `--`, the command's arguments included.
  const args = process.argv.slice(2);
  const end = args.indexOf('--');
  const flag = args
    .slice(0, end === -1 ? undefined : end)
    .find((f) => f === '--env-file' || f.startsWith('--env-file='));
  if (flag === undefined) return;
  let cmdline: string[];
  try {
    cmdline = readFileSync('/proc/self/cmdline', 'utf8').split('\0');
  } catch {
    return; // no /proc: cannot tell
  }
  if (cmdline.at(-1) === '') cmdline.pop();
  // [node, ...node's options, script, ...our arguments]; process.argv is [node, script, ...ours].
  const script = cmdline.length - (process.argv.length - 1);
  if (script < 1 || cmdline.slice(1, script).includes('--')) return;
  throw new CliError(
    `Node.js itself read the --env-file into this process before ${PROGRAM} started ` +
      `(Node.js ${process.version} takes --env-file after the script name as its own option); ` +
      `run the ${PROGRAM} executable (it starts Node as \`node -- bin.js\`), \`node -- bin.js run …\`, ` +
      'or use -e FILE',
    ExitCode.error,
  );
}

type Resolved = { text: string } | { reason: string };

/**
 * Replaces every `se://ID` and `se://PATTERN` value in `env` in place and returns the values put
 * in, or throws naming every unresolved reference.
 */
async function resolveReferences(
  env: Record<string, string>,
  socket: string | undefined,
  file: string,
): Promise<string[]> {
  const refs = Object.entries(env)
    .filter(([, value]) => value.startsWith(REFERENCE_PREFIX))
    .map(([variable, value]) => ({ variable, reference: value.slice(REFERENCE_PREFIX.length) }));
  if (refs.length === 0) return [];
  const kind = (reference: string) =>
    isValidId(reference) ? 'id' : isValidPattern(reference) ? 'pattern' : 'invalid';
  const wanted = [...new Set(refs.map((r) => r.reference).filter((r) => kind(r) !== 'invalid'))];
  const results = new Map<string, Resolved>();
  let unavailable: string | undefined;
  if (wanted.length > 0) {
    const client = openClient(socket);
    try {
      await Promise.all(
        wanted.map(async (reference) => {
          try {
            // An ID: only that exact ID (never another secret that matched, docs/security.md).
            // A pattern: exactly one ID matched, with no failed plugin that might hold another.
            const envelope =
              kind(reference) === 'id'
                ? await client.getSecret(reference)
                : await onlyMatch(client, reference);
            if ('reason' in envelope) {
              results.set(reference, envelope);
              return;
            }
            const text = envelope.revealText();
            results.set(
              reference,
              text.includes('\0') ? { reason: 'the value contains a NUL byte' } : { text },
            );
          } catch (err) {
            if (err instanceof EngineUnavailableError) {
              unavailable = err.message;
              results.set(reference, { reason: 'engine not available' });
            } else if (err instanceof ProviderFailedError) {
              // It may exist: say which provider failed, never "not found".
              results.set(reference, { reason: failedProviders(err) });
            } else if (isNotFoundError(err)) {
              results.set(reference, {
                reason: kind(reference) === 'id' ? 'not found' : 'matches no secret',
              });
            } else {
              results.set(reference, { reason: errorMessage(err) });
            }
          }
        }),
      );
    } finally {
      client.close();
    }
  }
  const unresolved: Unresolved[] = [];
  const texts: string[] = [];
  for (const ref of refs) {
    const result: Resolved =
      kind(ref.reference) === 'invalid'
        ? { reason: 'invalid reference: neither a secret ID nor a pattern' }
        : results.get(ref.reference)!;
    if ('text' in result) {
      env[ref.variable] = result.text;
      texts.push(result.text);
    } else unresolved.push({ ...ref, reason: result.reason });
  }
  if (unresolved.length === 0) return texts;
  unresolved.sort((a, b) => (a.variable < b.variable ? -1 : a.variable > b.variable ? 1 : 0));
  const list = unresolved
    .map((u) => `${u.variable}=${JSON.stringify(REFERENCE_PREFIX + u.reference)} (${u.reason})`)
    .join(', ');
  const n = unresolved.length;
  throw new CliError(
    `not starting ${file}: ${n} unresolved secret reference${n === 1 ? '' : 's'}: ${list}` +
      (unavailable === undefined ? '' : ` [${unavailable}]`),
    ExitCode.error,
  );
}

function failedProviders(err: ProviderFailedError): string {
  const which = err.failures.map((f) => `provider ${JSON.stringify(f.plugin)} ${f.message}`);
  return which.length > 0 ? which.join('; ') : err.message;
}

/** The one secret a pattern matches, or why there is not exactly one. */
async function onlyMatch(
  client: ReturnType<typeof openClient>,
  pattern: string,
): Promise<Envelope | { reason: string }> {
  const { envelopes, failures } = await client.resolve(pattern);
  const ids = [...new Set(envelopes.map((e) => e.id))].sort();
  if (failures.length > 0) {
    const which = failures.map((f) => `provider ${JSON.stringify(f.plugin)} ${f.message}`).join('; ');
    return { reason: `${which}: it may hold a match, so the match is not known to be the only one` };
  }
  if (ids.length === 0) return { reason: 'matches no secret' };
  if (ids.length > 1) {
    const listed = ids.slice(0, LISTED_MATCHES).join(', ');
    const more = ids.length > LISTED_MATCHES ? `, and ${ids.length - LISTED_MATCHES} more` : '';
    return { reason: `matches ${ids.length} secrets, a pattern must match one: ${listed}${more}` };
  }
  return envelopes.find((e) => e.id === ids[0])!;
}

function spawnCommand(
  file: string,
  argv: string[],
  env: Record<string, string>,
  masked: Uint8Array[],
  io: Io,
): Promise<number> {
  const out = new MaskMatcher(masked);
  const masking = !out.empty;
  const terminal = controllingTerminal(io);
  return new Promise<number>((done, fail) => {
    // Not detached: the command stays in our process group and session, with our terminal.
    const child = spawn(file, argv, { stdio: masking ? ['inherit', 'pipe', 'pipe'] : 'inherit', env });
    let settled = false;
    let pending = masking ? 3 : 1; // the exit, and each masked stream's end
    let exitCode = 0;
    const finish = () => {
      if (--pending > 0 || settled) return;
      settled = true;
      detach();
      done(exitCode);
    };
    if (masking) {
      pipeMasked(child.stdout!, out, process.stdout, finish);
      pipeMasked(child.stderr!, new MaskMatcher(masked), process.stderr, finish);
    }
    const forward = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      if (FROM_TERMINAL.has(signal) && terminal?.isForeground() === true) return; // it has it already
      try {
        process.kill(-child.pid, signal); // the command's own process group, if it made one
      } catch {
        try {
          process.kill(child.pid, signal);
        } catch {
          // gone already
        }
      }
    };
    const detach = () => {
      for (const signal of FORWARDED) process.off(signal, forward);
      terminal?.close();
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
      exitCode = code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0));
      finish();
    });
  });
}

/** The controlling terminal, to tell a terminal's signal from one sent to us; undefined if none. */
function controllingTerminal(io: Io): ControllingTerminal | undefined {
  const terminal = openControllingTerminal();
  if (!(terminal instanceof Error)) return terminal;
  // Cannot ask: every signal is forwarded (a Ctrl-C may then reach the command twice).
  io.err(`${PROGRAM}: warning: signals from the terminal may reach the command twice: ${terminal.message}\n`);
  return undefined;
}

/**
 * from → masker → to, without ending `to`; `ended` once everything read is written. When `to`
 * fails (a reader that went away: `run -- yes | head -1`), the command's pipe is closed, so its
 * next write fails (SIGPIPE) as it would have without us, instead of filling the pipe forever.
 */
function pipeMasked(from: Readable, matcher: MaskMatcher, to: Writable, ended: () => void): void {
  const masker = maskingStream(matcher);
  let done = false;
  const end = () => {
    if (done) return;
    done = true;
    to.off('error', broken);
    ended();
  };
  const broken = () => {
    from.unpipe(masker);
    masker.unpipe(to);
    from.destroy();
    masker.destroy();
    end();
  };
  to.once('error', broken);
  from.pipe(masker).pipe(to, { end: false });
  masker.once('end', end);
}
