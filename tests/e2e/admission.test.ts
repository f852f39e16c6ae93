// Issue 12 item 6: 10,000 requests for a secret that exists, all at once, against an engine whose
// limits are lowered so that every mechanism is exercised (connections refused at the cap, calls
// over maxRequestsInFlight, calls queued for the plugin). Some requests are turned away, but every
// answer is the value or says the engine is busy or unavailable: never "not found". The engine and
// the load run at the lowest priority (nice 19), so the load slows only this test.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createClient, isNotFoundError, ProviderFailedError } from '@secrets-engine/client';
import { describe, expect, it } from 'vitest';
import { ENGINE_FIXTURE, useE2E, waitFor, waitForJsonLine } from './support/e2e.js';

const LOAD_FIXTURE = fileURLToPath(new URL('./fixtures/load-client.mjs', import.meta.url));
const CLIENTS = 10;
const PER_CLIENT = 1_000;

/** A process's resident set (now and at its peak), from /proc, in MiB; undefined off Linux. */
function memory(pid: number): { rssMiB: number; peakMiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    return { rssMiB: Math.round(kib('VmRSS') / 1024), peakMiB: Math.round(kib('VmHWM') / 1024) };
  } catch {
    return undefined;
  }
}

describe('admission control under 10,000 concurrent requests', () => {
  const e2e = useE2E();

  it('every answer is the value, resource_exhausted or unavailable; none is not_found', async () => {
    e2e.addPlugin('vault');
    const limits = {
      maxConnections: 512,
      maxRequestsInFlight: 128,
      maxCallsPerPlugin: 32,
      maxQueuedPerPlugin: 256,
    };
    const engine = e2e.spawn('nice', ['-n', '19', process.execPath, ENGINE_FIXTURE], {
      PATH: process.env.PATH ?? '',
      E2E_SOCKET: e2e.socketPath,
      E2E_PLUGINS_DIR: e2e.pluginsDir,
      E2E_LIMITS: JSON.stringify(limits),
      ...e2e.fixtureEnv(),
    });
    const ready = await waitForJsonLine<{ pid: number }>(engine, 'the engine to be ready', {
      timeoutMs: 30_000,
    });
    const before = memory(ready.pid);
    // 10 clients of up to 100 connections each, 1,000 calls each, all issued at once.
    const load = e2e.spawn('nice', ['-n', '19', process.execPath, LOAD_FIXTURE], {
      PATH: process.env.PATH ?? '',
      LOAD_SOCKET: e2e.socketPath,
      LOAD_ID: 'vault/token',
      LOAD_VALUE: 'secret-for-vault/token',
      LOAD_CLIENTS: String(CLIENTS),
      LOAD_PER_CLIENT: String(PER_CLIENT),
    });
    const { outcomes, unexpected } = await waitForJsonLine<{
      outcomes: Record<string, number>;
      unexpected: string[];
    }>(load, 'the load to finish', { timeoutMs: 170_000 });
    const after = memory(ready.pid);
    // The figures for the closing note; nothing is asserted on them.
    process.stderr.write(
      `admission: ${JSON.stringify(outcomes)}; engine RSS before ${before?.rssMiB} MiB, after ${after?.rssMiB} MiB, peak ${after?.peakMiB} MiB\n`,
    );
    expect(unexpected).toEqual([]);
    expect(outcomes.not_found ?? 0).toBe(0);
    expect(outcomes['wrong value'] ?? 0).toBe(0);
    expect(Object.values(outcomes).reduce((a, b) => a + b, 0)).toBe(CLIENTS * PER_CLIENT);
    expect(outcomes.value ?? 0).toBeGreaterThan(0);
    // A part that could not run says which plugin (unavailable), never a guess.
    for (const kind of Object.keys(outcomes)) {
      expect(['value', 'resource_exhausted', 'engine unavailable', 'plugin failed: unavailable']).toContain(
        kind,
      );
    }
  }, 200_000);
});

describe('a plugin that died', () => {
  const e2e = useE2E();

  it('while it restarts, a request for its secrets is unavailable naming it, never not_found', async () => {
    e2e.addPlugin('vault');
    // 2.5–7.5 s before the restart (±50 %): the crashed window is wide open for the request.
    const engine = e2e.engine({ restart: { initialDelayMs: 5_000, maxRetries: 3 } });
    await engine.start();
    const oldPid = engine.listPlugins()[0]!.pid!;
    process.kill(oldPid, 'SIGKILL');
    await waitFor('the plugin to be crashed', () =>
      engine.listPlugins()[0]!.status === 'crashed' ? true : undefined,
    );
    using client = createClient({ socketPath: e2e.socketPath });
    const err = await client.getSecret('vault/token').catch((e: unknown) => e);
    expect(isNotFoundError(err)).toBe(false);
    expect(err).toBeInstanceOf(ProviderFailedError);
    expect((err as ProviderFailedError).failures).toEqual([
      {
        plugin: 'vault',
        code: 'unavailable',
        message: expect.stringMatching(
          /^failed \(unavailable: not running: plugin "vault" stopped unexpectedly \(killed by SIGKILL\); restarting in \d+\.\ds\)$/,
        ),
      },
    ]);
    // A request the plugin's pattern does not overlap is not its business: not_found as before.
    await expect(client.getSecret('elsewhere/x')).rejects.toSatisfy(isNotFoundError);
    // A disabled plugin was taken out on purpose: not asked.
    await engine.disablePlugin('vault');
    await expect(client.getSecret('vault/token')).rejects.toSatisfy(isNotFoundError);
  });
});
