// Child processes of the pack-and-install tests: output captured, every one tracked so that
// killChildren() (afterAll) leaves none running, whatever a test did.
import { type ChildProcess, spawn } from 'node:child_process';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

export interface Started {
  child: ChildProcess;
  /** Resolves once the process has exited and its output is complete. */
  closed: Promise<Exit>;
  output(): { stdout: string; stderr: string };
}

export interface SpawnOptions {
  cwd: string;
  env?: Record<string, string>;
  /** Written to the child's stdin, which is then closed (default: no stdin). */
  input?: string;
}

const children = new Set<ChildProcess>();

/**
 * The environment of every child: ours, without what vitest sets for its own workers (VITEST*,
 * TEST, NODE_ENV=test), so that the guide's own `vitest run` (scenario e) starts as it would in a
 * plugin author's shell.
 */
function childEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key.startsWith('VITEST') || key === 'TEST') delete env[key];
  }
  if (env.NODE_ENV === 'test') delete env.NODE_ENV;
  return { ...env, npm_config_update_notifier: 'false', ...extra };
}

/**
 * Spawns a command with its output captured; killChildren() SIGKILLs it if still running. `closed`
 * never rejects: a spawn error is in its `error`.
 */
export function start(cmd: string, args: string[], { cwd, env, input }: SpawnOptions): Started {
  const child = spawn(cmd, args, {
    cwd,
    env: childEnv(env),
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (input !== undefined) child.stdin?.end(input);
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const closed = new Promise<Exit>((resolve) => {
    const done = (result: Pick<Exit, 'code' | 'signal'> & { error?: Error }) => {
      children.delete(child);
      resolve({ stdout, stderr, ...result });
    };
    child.on('error', (error) => done({ code: null, signal: null, error }));
    child.on('close', (code, signal) => done({ code, signal }));
  });
  return { child, closed, output: () => ({ stdout, stderr }) };
}

/** SIGKILLs every child still running. */
export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}

export interface RunOptions extends SpawnOptions {
  timeoutMs?: number;
}

/** Runs a command to its end; never rejects on its exit status (only when it cannot be spawned). */
export async function run(
  cmd: string,
  args: string[],
  { timeoutMs = 120_000, ...options }: RunOptions,
): Promise<Exit> {
  const proc = start(cmd, args, options);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.child.kill('SIGKILL');
  }, timeoutMs);
  const res = await proc.closed;
  clearTimeout(timer);
  if (res.error) throw res.error;
  return timedOut ? { ...res, stderr: `${res.stderr}\n[timed out after ${timeoutMs} ms]` } : res;
}

/** The output of a finished process, for failure messages. */
export const describeOutput = (res: { stdout: string; stderr: string }) =>
  `\n--- stdout\n${res.stdout.trim()}\n--- stderr\n${res.stderr.trim()}`;

/** Like run, but throws (with the output) unless the exit code is `expect` (default 0). */
export async function check(
  what: string,
  cmd: string,
  args: string[],
  options: RunOptions & { expect?: number },
): Promise<Exit> {
  const res = await run(cmd, args, options);
  const expect = options.expect ?? 0;
  if (res.code !== expect) {
    throw new Error(`${what}: exit ${res.code ?? res.signal}, expected ${expect}${describeOutput(res)}`);
  }
  return res;
}

/** Starts a long-running process (see start) and resolves once a stdout line matches `ready`. */
export function startUntil(
  what: string,
  cmd: string,
  args: string[],
  ready: RegExp,
  { timeoutMs = 30_000, ...options }: RunOptions,
): Promise<Started & { line: string }> {
  const proc = start(cmd, args, options);
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      proc.child.kill('SIGKILL');
      reject(new Error(`${what}: ${why}${describeOutput(proc.output())}`));
    };
    const timer = setTimeout(() => fail(`no ready line within ${timeoutMs} ms`), timeoutMs);
    const onData = () => {
      const line = proc
        .output()
        .stdout.split('\n')
        .find((l) => ready.test(l));
      if (line === undefined) return;
      clearTimeout(timer);
      proc.child.stdout?.off('data', onData);
      resolve({ ...proc, line });
    };
    proc.child.stdout?.on('data', onData);
    // After the ready line this settles nothing: the promise is resolved already.
    void proc.closed.then((res) => fail(res.error?.message ?? `exited early (${res.code ?? res.signal})`));
  });
}

/** Sends `signal` and resolves with the exit code (or signal name, or why it had to be killed). */
export function stop(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = 10_000,
): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.exitCode ?? child.signalCode ?? 'exited');
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(`timeout (killed after ${timeoutMs} ms)`);
    }, timeoutMs);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      resolve(code ?? sig ?? 'exited');
    });
    child.kill(signal);
  });
}

/** Polls `fn` until its result is ok; throws `what` with the last `why` after `timeoutMs`. */
export async function waitFor(
  what: string,
  fn: () => Promise<{ ok: boolean; why: string }>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await fn();
    if (last.ok) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${last.why}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
