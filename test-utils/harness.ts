// The per-test bookkeeping of the suites that run engines and real processes (tests/e2e,
// tests/interop): a temp folder with a plugins folder and a pid folder, a captured engine log,
// engines closed and processes SIGKILLed after the test, and a failure when a process a fixture
// recorded outlives its test (protocol.md §0 "No orphans"). Each suite adds its own members.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import {
  type CapturedLogger,
  captureLogger,
  killLeftovers,
  recordedPids,
  type SpawnedProcess,
  spawnCaptured,
} from './process.js';

export interface ProcessTest {
  /** A fresh temp folder of this test. */
  dir: string;
  socketPath: string;
  pluginsDir: string;
  /** Where fixture processes record their pids (files named `<pid>`). */
  pidDir: string;
  /** The engine log (printed when the test fails, or live with the suite's verbose variable). */
  logs: string[];
  /** A logger that writes into `logs`. */
  logger: CapturedLogger;
  /** Closes `resource` (an engine) after the test; returns it. */
  closeAfterTest<T extends { close(): Promise<unknown> }>(resource: T): T;
  /** Spawns a process; SIGKILLed and reaped after the test if still running. */
  spawn(command: string, args: string[], env: Record<string, string>): SpawnedProcess;
  /** Every pid a fixture recorded so far. */
  recordedPids(): number[];
}

export interface ProcessTestInit {
  /** Prefix of the temp folder's name. */
  tmpPrefix: string;
  /** The environment variable that prints the engine log and process stderr live. */
  verboseEnv: string;
  /** How long recorded processes get to end after the test's engines have closed. */
  reapTimeoutMs: number;
}

/** Registers the hooks; the returned object's per-test fields are set anew before each test. */
export function useProcessTest(init: ProcessTestInit): ProcessTest {
  let resources: { close(): Promise<unknown> }[] = [];
  let children: SpawnedProcess[] = [];
  const ctx: ProcessTest = {
    dir: '',
    socketPath: '',
    pluginsDir: '',
    pidDir: '',
    logs: [],
    logger: captureLogger([], init.verboseEnv),
    closeAfterTest(resource) {
      resources.push(resource);
      return resource;
    },
    spawn(command, args, env) {
      const spawned = spawnCaptured(command, args, { env, verboseEnv: init.verboseEnv });
      children.push(spawned);
      return spawned;
    },
    recordedPids: () => recordedPids(ctx.pidDir),
  };
  const printLogs = () => {
    process.stderr.write(`--- engine log ---\n${ctx.logs.join('\n')}\n`);
    for (const c of children) process.stderr.write(`--- stderr of pid ${c.pid} ---\n${c.stderr()}\n`);
  };

  beforeEach(({ onTestFailed }) => {
    const dir = mkdtempSync(join(tmpdir(), init.tmpPrefix));
    const logs: string[] = [];
    Object.assign(ctx, {
      dir,
      socketPath: join(dir, 'engine.sock'),
      pluginsDir: join(dir, 'plugins'),
      pidDir: join(dir, 'pids'),
      logs,
      logger: captureLogger(logs, init.verboseEnv),
    });
    mkdirSync(ctx.pluginsDir);
    mkdirSync(ctx.pidDir);
    resources = [];
    children = [];
    onTestFailed(printLogs);
  });

  afterEach(async () => {
    await Promise.allSettled(resources.map((r) => r.close()));
    for (const c of children) {
      if (c.child.exitCode === null && c.child.signalCode === null) {
        c.child.kill('SIGKILL');
        await c.exited;
      }
    }
    // Nothing a fixture started may outlive its test. Init may take a moment to reap what it
    // inherited.
    const leftover = await killLeftovers(ctx.recordedPids(), init.reapTimeoutMs);
    if (leftover.length > 0) printLogs();
    rmSync(ctx.dir, { recursive: true, force: true });
    if (leftover.length > 0) {
      throw new Error(`processes left after the test (now killed): ${leftover.join(', ')}`);
    }
  });

  return ctx;
}
