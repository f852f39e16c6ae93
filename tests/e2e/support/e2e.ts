import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Client, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { createEngine, type Engine, type EngineOptions, type Logger } from '@secrets-engine/runtime';
import { afterEach, beforeEach } from 'vitest';
import {
  isAlive,
  processState,
  type SpawnedProcess,
  captureLogger as sharedCaptureLogger,
  spawnCaptured,
  waitGone,
} from '../../../test-utils/process.js';

/** The fixture plugin (an executable using @secrets-engine/plugin-sdk). */
export const PLUGIN_FIXTURE = fileURLToPath(new URL('../fixtures/sdk-plugin.mjs', import.meta.url));
/** An engine in a process of its own. */
export const ENGINE_FIXTURE = fileURLToPath(new URL('../fixtures/engine.mjs', import.meta.url));

export const GO_ZERO_SECONDS = -62_135_596_800n;

// --- processes ---

export { isAlive, processState, sleep, waitFor, waitGone } from '../../../test-utils/process.js';

// --- clients on the engine socket ---

/** A raw Connect transport on the engine's Unix socket (HTTP/1.1, keep-alive), as any client would use. */
export function engineTransport(socketPath: string, useBinaryFormat = true) {
  return createConnectTransport({
    httpVersion: '1.1',
    baseUrl: 'http://secrets-engine.localhost',
    useBinaryFormat,
    nodeOptions: { socketPath },
  });
}

export interface EngineClients {
  resolver: Client<typeof resolverv1.ResolverService>;
  management: Client<typeof pluginsv1.PluginManagementService>;
}

export function engineClients(socketPath: string, useBinaryFormat = true): EngineClients {
  const transport = engineTransport(socketPath, useBinaryFormat);
  return {
    resolver: createClient(resolverv1.ResolverService, transport),
    management: createClient(pluginsv1.PluginManagementService, transport),
  };
}

/** ListPlugins over the socket, as a name → Plugin map. */
export async function listByName(clients: EngineClients): Promise<Map<string, pluginsv1.Plugin>> {
  const res = await clients.management.listPlugins({});
  return new Map(res.plugins.map((p) => [p.name, p]));
}

// --- logging ---

/** A logger that keeps lines (printed on failure by the afterEach, or live with E2E_VERBOSE=1). */
export function captureLogger(lines: string[], prefix = ''): Logger {
  return sharedCaptureLogger(lines, 'E2E_VERBOSE', prefix);
}

// --- per-test context ---

export interface E2EContext {
  /** A fresh temp folder of this test. */
  dir: string;
  socketPath: string;
  pluginsDir: string;
  /** Where fixture processes record their pids. */
  pidDir: string;
  logs: string[];
  logger: Logger;
  /** Adds the fixture plugin to the plugins folder under `name` (a symlink, protocol.md §1.1). */
  addPlugin(name: string): string;
  /** Environment for fixture plugins (FIXTURE_PID_DIR plus `extra`). */
  fixtureEnv(extra?: Record<string, string>): Record<string, string>;
  /** Creates an engine on this test's socket and plugins folder; closed after the test. */
  engine(options?: EngineOptions & { fixture?: Record<string, string> }): Engine;
  /** Spawns a process; killed (SIGKILL) and reaped after the test if still running. */
  spawn(command: string, args: string[], env: Record<string, string>): SpawnedProcess;
  /** Every pid a fixture recorded so far. */
  recordedPids(): number[];
}

export type { SpawnedProcess } from '../../../test-utils/process.js';

/** The environment a hand-started process needs (PATH for `#!/usr/bin/env node`). */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

export function useE2E(): E2EContext {
  const ctx = {} as E2EContext;
  let engines: Engine[] = [];
  let children: SpawnedProcess[] = [];

  beforeEach(({ onTestFailed }) => {
    const dir = mkdtempSync(join(tmpdir(), 'se-e2e-'));
    const pluginsDir = join(dir, 'plugins');
    const pidDir = join(dir, 'pids');
    mkdirSync(pluginsDir);
    mkdirSync(pidDir);
    const logs: string[] = [];
    onTestFailed(() => {
      process.stderr.write(`--- engine log ---\n${logs.join('\n')}\n`);
    });
    engines = [];
    children = [];
    Object.assign(ctx, {
      dir,
      socketPath: join(dir, 'engine.sock'),
      pluginsDir,
      pidDir,
      logs,
      logger: captureLogger(logs),
      addPlugin(name: string) {
        const path = join(pluginsDir, name);
        symlinkSync(PLUGIN_FIXTURE, path);
        return path;
      },
      fixtureEnv(extra: Record<string, string> = {}) {
        return { FIXTURE_PID_DIR: pidDir, ...extra };
      },
      engine(options: EngineOptions & { fixture?: Record<string, string> } = {}) {
        const { fixture, ...rest } = options;
        const engine = createEngine({
          socketPath: ctx.socketPath,
          pluginsDir,
          logger: ctx.logger,
          shutdownTimeoutMs: 500,
          ...rest,
          pluginEnv: { ...ctx.fixtureEnv(fixture), ...(rest.pluginEnv ?? {}) },
        });
        engines.push(engine);
        return engine;
      },
      spawn(command: string, args: string[], env: Record<string, string>) {
        const spawned = spawnCaptured(command, args, env, 'E2E_VERBOSE');
        children.push(spawned);
        return spawned;
      },
      recordedPids() {
        return readdirSync(pidDir).map(Number);
      },
    } satisfies E2EContext);
  });

  afterEach(async () => {
    await Promise.allSettled(engines.map((e) => e.close()));
    for (const c of children) {
      if (c.child.exitCode === null && c.child.signalCode === null) {
        c.child.kill('SIGKILL');
        await c.exited;
      }
    }
    // Nothing a fixture started may outlive its test (protocol.md §0 "No orphans"). Init may take a
    // moment to reap what it inherited.
    const pids = ctx.recordedPids();
    let leftover: string[] = [];
    try {
      await waitGone(pids, { timeoutMs: 2_000 });
    } catch {
      const alive = pids.filter(isAlive);
      leftover = alive.map((pid) => `${pid} (state ${processState(pid)})`);
      for (const pid of alive) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    if (leftover.length > 0) process.stderr.write(`--- engine log ---\n${ctx.logs.join('\n')}\n`);
    rmSync(ctx.dir, { recursive: true, force: true });
    if (leftover.length > 0) {
      throw new Error(`processes left after the test (now killed): ${leftover.join(', ')}`);
    }
  });

  return ctx;
}
