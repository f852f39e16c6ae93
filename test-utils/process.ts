// Process and logging helpers shared by the suites that run real processes (tests/e2e,
// tests/interop). Never exported from a package.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

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

/** Polls `probe` until it returns a value other than undefined/false; rejects after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 10_000, intervalMs = 10 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Waits until every pid has stopped running; returns when each was last seen alive (ms since `since`). */
export async function waitGone(
  pids: readonly number[],
  { timeoutMs = 5_000, since = Date.now() }: { timeoutMs?: number; since?: number } = {},
): Promise<Map<number, number>> {
  const goneAfter = new Map<number, number>();
  await waitFor(
    `processes ${pids.join(', ')} to exit`,
    () => {
      for (const pid of pids)
        if (!goneAfter.has(pid) && !isAlive(pid)) goneAfter.set(pid, Date.now() - since);
      return goneAfter.size === pids.length;
    },
    { timeoutMs, intervalMs: 5 },
  );
  return goneAfter;
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

export interface SpawnedProcess {
  child: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
}

/** Spawns with stdout/stderr captured (stderr also printed when `$verboseEnv` is set). */
export function spawnCaptured(
  command: string,
  args: string[],
  env: Record<string, string>,
  verboseEnv: string,
): SpawnedProcess {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    if (process.env[verboseEnv]) process.stderr.write(d);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  if (child.pid === undefined) throw new Error(`cannot spawn ${command}`);
  return { child, pid: child.pid, exited, stdout: () => out, stderr: () => err };
}
