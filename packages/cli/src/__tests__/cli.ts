// Test helpers: the BUILT binary (`node dist/bin.js …`) spawned as a user would run it, a served
// engine with the fixture plugin in a temp plugins folder, and process bookkeeping. Every process
// started here is tracked; reapAll() (registered by useCli()) kills what is left and fails the
// suite if a fixture plugin process outlived its engine.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect } from 'vitest';

export const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(PACKAGE_DIR, 'dist', 'bin.js');
/** The fixture plugin (an executable written with @secrets-engine/plugin-sdk). */
export const FIXTURE = fileURLToPath(new URL('./fixtures/provider.mjs', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running CLI process with its output so far. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited and its streams are closed. */
  readonly exited: Promise<CliResult>;
  /** Waits until stdout (or stderr) matches. */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<RegExpMatchArray>;
}

const live = new Set<ChildProcess>();
const tempDirs: string[] = [];
const pidDirs: string[] = [];

export function tempDir(prefix = 'se-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** The environment of every spawned CLI: hermetic, never the user's real engine socket. */
function baseEnv(extra: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('SECRETS_ENGINE_') && !k.startsWith('FIXTURE_')) env[k] = v;
  }
  env.SECRETS_ENGINE_SOCKET = join(tmpdir(), 'se-cli-no-engine', 'engine.sock');
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function startCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string } = {},
): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: baseEnv(options.env ?? {}),
    cwd: options.cwd ?? PACKAGE_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(child);
}

/** Spawns the fixture plugin by hand (it joins the engine through the socket). */
export function startExternalPlugin(socket: string, name: string, pidDir: string): CliProcess {
  const child = spawn(process.execPath, [FIXTURE], {
    env: baseEnv({ SECRETS_ENGINE_SOCKET: socket, FIXTURE_NAME: name, FIXTURE_PID_DIR: pidDir }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(child);
}

function track(child: ChildProcess): CliProcess {
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  let closed = false;
  const exited = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => {
      closed = true;
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    pid: child.pid!,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor: (pattern, stream = 'stdout', timeoutMs = 10_000) =>
      waitFor(
        `${stream} to match ${pattern}`,
        () => {
          const match = (stream === 'stdout' ? stdout : stderr).match(pattern);
          if (match === null && closed) {
            throw new Error(
              `process exited before ${stream} matched ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`,
            );
          }
          return match ?? undefined;
        },
        {
          timeoutMs,
          onTimeout: () => `\nstdout: ${stdout}\nstderr: ${stderr}`,
        },
      ),
  };
}

/** Runs the CLI to completion (killed after timeoutMs). */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const proc = startCli(args, options);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  try {
    return await proc.exited;
  } finally {
    clearTimeout(timer);
  }
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false,
  { timeoutMs = 10_000, onTimeout }: { timeoutMs?: number; onTimeout?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${onTimeout?.() ?? ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    if (existsSync('/proc/self/stat')) return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pids the fixture plugins recorded in `dir`. */
export function recordedPids(dir: string): number[] {
  return readdirSync(dir).map(Number);
}

export interface ServedEngine {
  readonly dir: string;
  readonly socket: string;
  readonly pluginsDir: string;
  /** FIXTURE_PID_DIR of the plugins it launched. */
  readonly pidDir: string;
  readonly proc: CliProcess;
  /** The ready line. */
  readonly ready: string;
  /** Sends `signal`, waits for the exit, and checks no plugin process is left. */
  stop(signal?: NodeJS.Signals): Promise<CliResult>;
}

/** `secrets-engine serve` on a temp socket with the fixture plugin launched as `fixture`. */
export async function serve(
  options: {
    args?: string[];
    /** Names of fixture plugins to put in a new plugins folder. Default ['fixture']. */
    plugins?: string[];
    /** An existing plugins folder and pid folder (of an earlier serve) instead. */
    reuse?: { pluginsDir: string; pidDir: string };
    pluginEnv?: Record<string, string>;
  } = {},
): Promise<ServedEngine> {
  const dir = tempDir();
  const socket = join(dir, 'engine.sock');
  const pluginsDir = options.reuse?.pluginsDir ?? join(dir, 'plugins');
  const pidDir = options.reuse?.pidDir ?? join(dir, 'pids');
  if (options.reuse === undefined) {
    mkdirSync(pluginsDir);
    mkdirSync(pidDir);
    pidDirs.push(pidDir);
    for (const name of options.plugins ?? ['fixture']) symlinkSync(FIXTURE, join(pluginsDir, name));
  }
  const pluginEnv = Object.entries({ FIXTURE_PID_DIR: pidDir, ...options.pluginEnv }).flatMap(([k, v]) => [
    '--plugin-env',
    `${k}=${v}`,
  ]);
  const proc = startCli([
    'serve',
    '--socket',
    socket,
    '--plugins-dir',
    pluginsDir,
    ...pluginEnv,
    ...(options.args ?? []),
  ]);
  const [ready] = await proc.waitFor(/^secrets-engine ready on .*$/m, 'stdout', 15_000);
  return {
    dir,
    socket,
    pluginsDir,
    pidDir,
    proc,
    ready,
    async stop(signal = 'SIGINT') {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
      const result = await proc.exited;
      await waitFor(
        'the plugin processes to exit',
        () => recordedPids(pidDir).every((pid) => !isAlive(pid)),
        {
          timeoutMs: 5_000,
        },
      );
      return result;
    },
  };
}

/** Registers an afterAll that reaps every process and temp folder of this file. */
export function useCli(): void {
  afterAll(reapAll, 20_000);
}

async function reapAll(): Promise<void> {
  const waits = [...live].map((child) => {
    const gone = new Promise((resolve) => child.once('close', resolve));
    child.kill('SIGKILL');
    return gone;
  });
  await Promise.all(waits);
  // Plugins of a SIGKILLed engine exit on their own (the SDK's orphan exit); give them a moment,
  // then kill and report any that did not.
  const leftover: number[] = [];
  for (const dir of pidDirs.splice(0)) {
    for (const pid of recordedPids(dir)) {
      try {
        await waitFor(`plugin ${pid} to exit`, () => !isAlive(pid), { timeoutMs: 3_000 });
      } catch {
        leftover.push(pid);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
  }
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  expect(leftover, 'plugin processes left running').toEqual([]);
}

/** No stack trace: no `    at ` frame lines. */
export function expectNoStack(text: string): void {
  expect(text).not.toMatch(/^\s+at .+/m);
}
