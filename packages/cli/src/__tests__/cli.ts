// Test helpers: the BUILT binary (`node bundle/bin.js …`, scripts/bundle.mjs) spawned as a user would run it, a served
// engine with the fixture plugin in a temp plugins folder, and process bookkeeping. Every process
// started here is tracked; reapAll() (registered by useCli()) kills what is left and fails the
// suite if a fixture plugin process outlived its engine.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  killLeftovers,
  type ProcessOutput,
  recordedPids,
  type SpawnedProcess,
  spawnCaptured,
  waitFor,
  waitGone,
} from '@secrets-engine/test-utils/process.js';
import { afterAll, expect } from 'vitest';

export { isAlive, recordedPids, waitFor } from '@secrets-engine/test-utils/process.js';

export const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(PACKAGE_DIR, 'bundle', 'bin.js');
/** Node's arguments to run BIN as the executable does (`node -- bin.js`: see scripts/bundle.mjs). */
export const NODE_BIN = ['--', BIN];
/** The fixture plugin (an executable written with @secrets-engine/plugin-sdk). */
export const FIXTURE = fileURLToPath(new URL('./fixtures/provider.mjs', import.meta.url));

/** A running CLI process with its output so far. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited and its streams are closed. */
  readonly exited: Promise<ProcessOutput>;
  /** Waits until stdout (or stderr) matches. */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<RegExpMatchArray>;
}

const live = new Set<SpawnedProcess>();
const tempDirs: string[] = [];
const pidDirs: string[] = [];

export function tempDir(prefix = 'se-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

let xdgRoot: string | undefined;
let xdgCount = 0;

/**
 * The environment of every spawned CLI: hermetic, never the user's real engine socket, nor their
 * configuration file or plugins folder: each process gets XDG_CONFIG_HOME and XDG_DATA_HOME of its
 * own that do not exist (so what `plugins disable` persists reaches no other process) unless the
 * test gives them.
 */
function baseEnv(extra: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('SECRETS_ENGINE_') && !k.startsWith('FIXTURE_')) env[k] = v;
  }
  env.SECRETS_ENGINE_SOCKET = join(tmpdir(), 'se-cli-no-engine', 'engine.sock');
  xdgRoot ??= tempDir('se-cli-xdg-');
  const own = join(xdgRoot, String(xdgCount++));
  env.XDG_CONFIG_HOME = join(own, 'config');
  env.XDG_DATA_HOME = join(own, 'data');
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function startCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; bin?: string } = {},
): CliProcess {
  return track(
    spawnCaptured(
      process.execPath,
      [...(options.bin === undefined ? NODE_BIN : ['--', options.bin]), ...args],
      {
        env: baseEnv(options.env ?? {}),
        cwd: options.cwd ?? PACKAGE_DIR,
      },
    ),
  );
}

/** The pseudo-terminal helper (python3's pty module; no Node dependency needed). */
export const PTY_HELPER = fileURLToPath(new URL('./terminal.py', import.meta.url));
/** Why the terminal tests cannot run here, or undefined when python3 is there to run PTY_HELPER (terminal.py). */
export const noPty: string | undefined = (() => {
  const r = spawnSync('python3', ['-c', 'import pty, termios'], { stdio: 'ignore' });
  return r.status === 0
    ? undefined
    : 'python3 with its pty module is not installed; the terminal tests did not run';
})();

/**
 * The CLI on a new pseudo-terminal (stdin, stdout and stderr; with `stdoutFile`, stdout goes to that
 * file). stdout() is what the terminal showed.
 */
export function startCliOnPty(
  args: string[],
  options: { env?: Record<string, string | undefined>; stdoutFile?: string; columns?: number } = {},
): CliProcess {
  return track(
    spawnCaptured(
      'python3',
      [
        PTY_HELPER,
        ...(options.stdoutFile === undefined ? [] : ['--stdout-file', options.stdoutFile]),
        ...(options.columns === undefined ? [] : ['--columns', String(options.columns)]),
        '--',
        process.execPath,
        ...NODE_BIN,
        ...args,
      ],
      { env: baseEnv(options.env ?? {}), cwd: PACKAGE_DIR },
    ),
  );
}

/** How a CLI run ended, with its stdout as bytes. */
export interface BytesOutput {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs the CLI to completion with `input` on stdin and stdout kept as bytes (killed after
 * timeoutMs); with `umask`, under that umask (through /bin/sh).
 */
export function runCliBytes(
  args: string[],
  options: {
    input?: Uint8Array | string;
    env?: Record<string, string | undefined>;
    umask?: string;
    timeoutMs?: number;
  } = {},
): Promise<BytesOutput> {
  const [command, argv] =
    options.umask === undefined
      ? [process.execPath, [...NODE_BIN, ...args]]
      : [
          '/bin/sh',
          ['-c', `umask ${options.umask} && exec "$0" "$@"`, process.execPath, ...NODE_BIN, ...args],
        ];
  const child = spawn(command, argv, { env: baseEnv(options.env ?? {}), cwd: PACKAGE_DIR });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  child.stdin.on('error', () => {}); // a CLI that exits before reading all of it
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

/** Spawns the fixture plugin by hand (it joins the engine through the socket). */
export function startExternalPlugin(socket: string, name: string, pidDir: string): CliProcess {
  return track(
    spawnCaptured(process.execPath, [FIXTURE], {
      env: baseEnv({ SECRETS_ENGINE_SOCKET: socket, FIXTURE_NAME: name, FIXTURE_PID_DIR: pidDir }),
    }),
  );
}

function track(proc: SpawnedProcess): CliProcess {
  live.add(proc);
  let closed = false;
  const exited = proc.closed.then((result) => {
    closed = true;
    live.delete(proc);
    return result;
  });
  return {
    child: proc.child,
    pid: proc.pid,
    stdout: proc.stdout,
    stderr: proc.stderr,
    exited,
    waitFor: (pattern, stream = 'stdout', timeoutMs = 10_000) =>
      waitFor(
        `${stream} to match ${pattern}`,
        () => {
          const match = (stream === 'stdout' ? proc.stdout() : proc.stderr()).match(pattern);
          if (match === null && closed) {
            throw new Error(
              `process exited before ${stream} matched ${pattern}\nstdout: ${proc.stdout()}\nstderr: ${proc.stderr()}`,
            );
          }
          return match ?? undefined;
        },
        {
          timeoutMs,
          intervalMs: 20,
          onTimeout: () => `\nstdout: ${proc.stdout()}\nstderr: ${proc.stderr()}`,
        },
      ),
  };
}

/** Runs the CLI to completion (killed after timeoutMs). */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number; bin?: string } = {},
): Promise<ProcessOutput> {
  const proc = startCli(args, options);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  try {
    return await proc.exited;
  } finally {
    clearTimeout(timer);
  }
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
  stop(signal?: NodeJS.Signals): Promise<ProcessOutput>;
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
    /** Runs once the new plugins folder is filled, before the engine starts (e.g. to pin it). */
    prepare?: (pluginsDir: string) => unknown;
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
    await options.prepare?.(pluginsDir);
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
    // A loaded machine can take more than the default 5 s to start a node plugin: a plugin that
    // misses it is not running, and its IDs are not found. A test's own --registration-timeout,
    // later on the line, wins.
    '--registration-timeout',
    '60000',
    ...pluginEnv,
    ...(options.args ?? []),
  ]);
  const [ready] = await proc.waitFor(/^secrets-engine ready on .*$/m, 'stdout', 90_000);
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
      await waitGone(recordedPids(pidDir), { timeoutMs: 5_000 });
      return result;
    },
  };
}

/** Registers an afterAll that reaps every process and temp folder of this file. */
export function useCli(): void {
  afterAll(reapAll, 20_000);
}

async function reapAll(): Promise<void> {
  await Promise.all(
    [...live].map((proc) => {
      proc.child.kill('SIGKILL');
      return proc.closed;
    }),
  );
  // Plugins of a SIGKILLed engine exit on their own (the SDK's orphan exit); give them a moment,
  // then kill and report any that did not.
  const leftover = await killLeftovers(pidDirs.splice(0).flatMap(recordedPids), 3_000);
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  xdgRoot = undefined;
  expect(leftover, 'plugin processes left running').toEqual([]);
}

/** No stack trace: no `    at ` frame lines. */
export function expectNoStack(text: string): void {
  expect(text).not.toMatch(/^\s+at .+/m);
}

/**
 * What a terminal shows once `transcript` is played: lines, after carriage returns, erase-in-line
 * (`ESC [ K`) and backspaces; other escape sequences are kept as text.
 */
export function screen(transcript: string): string[] {
  const lines: string[] = [];
  let line = '';
  let column = 0;
  for (let i = 0; i < transcript.length; i++) {
    const c = transcript[i]!;
    if (c === '\r') column = 0;
    else if (c === '\n') {
      lines.push(line);
      line = '';
      column = 0;
    } else if (c === '\b') column = Math.max(0, column - 1);
    else if (c === '\x1b' && transcript.startsWith('[K', i + 1)) {
      line = line.slice(0, column);
      i += 2;
    } else {
      line = line.slice(0, column) + c + line.slice(column + 1);
      column++;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
