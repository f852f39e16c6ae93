import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Client, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { createEngine, type Engine, type EngineOptions } from '@secrets-engine/runtime';
import { type ProcessTest, useProcessTest } from '@secrets-engine/test-utils/harness.js';
import type { SpawnedProcess } from '@secrets-engine/test-utils/process.js';

/** The fixture plugin (an executable using @secrets-engine/plugin-sdk). */
export const PLUGIN_FIXTURE = fileURLToPath(new URL('../fixtures/sdk-plugin.mjs', import.meta.url));
/** An engine in a process of its own. */
export const ENGINE_FIXTURE = fileURLToPath(new URL('../fixtures/engine.mjs', import.meta.url));

export const GO_ZERO_SECONDS = -62_135_596_800n;

// --- processes ---

export {
  isAlive,
  processState,
  sleep,
  waitFor,
  waitForJsonLine,
  waitGone,
} from '@secrets-engine/test-utils/process.js';

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

// --- per-test context ---

export interface E2EContext extends ProcessTest {
  /** Adds the fixture plugin to the plugins folder under `name` (a symlink, protocol.md §1.1). */
  addPlugin(name: string): string;
  /** Environment for fixture plugins (FIXTURE_PID_DIR plus `extra`). */
  fixtureEnv(extra?: Record<string, string>): Record<string, string>;
  /** Creates an engine on this test's socket and plugins folder; closed after the test. */
  engine(options?: EngineOptions & { fixture?: Record<string, string> }): Engine;
  /** Starts the fixture plugin by hand as `name`: it joins the test's engine through /hijack. */
  startExternalPlugin(name: string): SpawnedProcess;
}

export type { SpawnedProcess } from '@secrets-engine/test-utils/process.js';

/** The environment a hand-started process needs (PATH for `#!/usr/bin/env node`). */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/** The test's temp folder, engines and processes (test-utils/harness.ts), with the fixture plugin. */
export function useE2E(): E2EContext {
  const base = useProcessTest({ tmpPrefix: 'se-e2e-', verboseEnv: 'E2E_VERBOSE', reapTimeoutMs: 2_000 });
  const ctx: E2EContext = Object.assign(base, {
    addPlugin(name: string) {
      const path = join(base.pluginsDir, name);
      symlinkSync(PLUGIN_FIXTURE, path);
      return path;
    },
    fixtureEnv(extra: Record<string, string> = {}) {
      return { FIXTURE_PID_DIR: base.pidDir, ...extra };
    },
    engine(options: EngineOptions & { fixture?: Record<string, string> } = {}) {
      const { fixture, ...rest } = options;
      return base.closeAfterTest(
        createEngine({
          socketPath: base.socketPath,
          pluginsDir: base.pluginsDir,
          logger: base.logger,
          shutdownTimeoutMs: 500,
          ...rest,
          pluginEnv: { ...ctx.fixtureEnv(fixture), ...(rest.pluginEnv ?? {}) },
        }),
      );
    },
    startExternalPlugin(name: string) {
      return base.spawn(PLUGIN_FIXTURE, [], {
        ...baseEnv(),
        ...ctx.fixtureEnv({ FIXTURE_NAME: name }),
        SECRETS_ENGINE_SOCKET: base.socketPath,
      });
    },
  });
  return ctx;
}
