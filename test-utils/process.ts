// Process and logging helpers shared by the suites that run real processes (tests/e2e,
// tests/interop, tests/interop-go-peer, packages/cli). Never exported from a package.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/**
 * The state letter of a process from /proc/<pid>/stat (R, S, D, Z, ...), or undefined if there is no
 * such process. Off Linux, 'S' for a process that `kill(pid, 0)` reaches.
 */
export function processState(pid: number): string | undefined {
  if (existsSync('/proc/self/stat')) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'.
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch {
      return undefined;
    }
  }
  try {
    process.kill(pid, 0);
    return 'S';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? 'S' : undefined;
  }
}

/** A process that still runs: it exists and is neither a zombie nor dead. */
export function isAlive(pid: number): boolean {
  const state = processState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X' && state !== 'x';
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns a value other than undefined/false; rejects after `timeoutMs`, with
 * what `onTimeout` returns (e.g. a process's output) appended to the message.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  {
    timeoutMs = 10_000,
    intervalMs = 10,
    onTimeout,
  }: { timeoutMs?: number; intervalMs?: number; onTimeout?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${onTimeout?.() ?? ''}`);
    }
    await sleep(intervalMs);
  }
}

/** Waits until none of `pids` is running any more. */
export async function waitGone(pids: readonly number[], { timeoutMs = 5_000 }: { timeoutMs?: number } = {}) {
  await waitFor(`processes ${pids.join(', ')} to exit`, () => pids.every((pid) => !isAlive(pid)), {
    timeoutMs,
    intervalMs: 5,
  });
}

/** The pids that fixture processes recorded as files named `<pid>` in `dir` (other files are ignored). */
export function recordedPids(dir: string): number[] {
  return readdirSync(dir)
    .filter((f) => /^\d+$/.test(f))
    .map(Number);
}

/**
 * Gives `pids` up to `timeoutMs` to stop running, then SIGKILLs those that did not. Returns them as
 * `<pid> (state <S>)`, empty when every process ended by itself.
 */
export async function killLeftovers(pids: readonly number[], timeoutMs: number): Promise<string[]> {
  try {
    await waitGone(pids, { timeoutMs });
    return [];
  } catch {
    const alive = pids.filter(isAlive);
    const leftover = alive.map((pid) => `${pid} (state ${processState(pid)})`);
    for (const pid of alive) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    return leftover;
  }
}

/** The engine logger's shape (structurally @secrets-engine/ipc's Logger). */
export interface CapturedLogger {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
  child(attributes: Record<string, unknown>): CapturedLogger;
}

/** A logger that keeps lines in `lines`, and also prints them when `$verboseEnv` is set. */
export function captureLogger(lines: string[], verboseEnv: string, prefix = ''): CapturedLogger {
  const write = (level: string) => (message: string, attrs?: Record<string, unknown>) => {
    const line = `${level} ${prefix}${message}${attrs === undefined ? '' : ` ${JSON.stringify(attrs)}`}`;
    lines.push(line);
    if (process.env[verboseEnv]) process.stderr.write(`${line}\n`);
  };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (attrs: Record<string, unknown>) =>
      captureLogger(
        lines,
        verboseEnv,
        `${prefix}${Object.entries(attrs)
          .map(([k, v]) => `${k}=${String(v)} `)
          .join('')}`,
      ),
  };
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How a process ended, with everything it printed. */
export interface ProcessOutput extends ProcessExit {
  stdout: string;
  stderr: string;
}

export interface SpawnedProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves when the process has exited (its output may still be arriving). */
  exited: Promise<ProcessExit>;
  /** Resolves when the process has exited and its output streams are closed. */
  closed: Promise<ProcessOutput>;
  stdout(): string;
  stderr(): string;
}

/** Spawns with stdout/stderr captured (stderr also printed when `$verboseEnv` is set). */
export function spawnCaptured(
  command: string,
  args: string[],
  options: { env: Record<string, string>; cwd?: string; verboseEnv?: string },
): SpawnedProcess {
  const { env, cwd, verboseEnv } = options;
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    if (verboseEnv !== undefined && process.env[verboseEnv]) process.stderr.write(d);
  });
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const closed = new Promise<ProcessOutput>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  if (child.pid === undefined) throw new Error(`cannot spawn ${command}`);
  return { child, pid: child.pid, exited, closed, stdout: () => out, stderr: () => err };
}

/**
 * Waits for the first line `proc` prints on stdout (a fixture's ready line) and parses it as JSON;
 * fails at once if the process exits before printing it.
 */
export function waitForJsonLine<T>(
  proc: SpawnedProcess,
  what: string,
  options: { timeoutMs?: number } = {},
): Promise<T> {
  return waitFor(
    what,
    () => {
      const out = proc.stdout();
      const end = out.indexOf('\n');
      if (end !== -1) return JSON.parse(out.slice(0, end)) as T;
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new Error(`${what}: the process exited first:\n${proc.stderr()}`);
      }
      return undefined;
    },
    options,
  );
}
