// The other direction: OUR plugin SDK (fixtures/sdk-plugin.mjs) under DOCKER's Go engine, the
// engine package of Docker's tree fa7ff078 run by a main of ours (go/docker-engine: engine.Run with a
// socket path and a plugins folder). That engine predates plugins.v1: it serves the OLD
// resolver.v1 routes only, so our SDK registers through its OLD-route fallback, and Docker's OLD
// client (fa7ff078 = client/v0.0.17) and HEAD client (e3231b00) read the secrets. Docker tier only.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@secrets-engine/client';
import { describe, expect, inject, it } from 'vitest';
import {
  BLOB,
  GO_ZERO,
  goBinary,
  isAlive,
  runClient,
  type SpawnedProcess,
  useInterop,
  waitFor,
  waitForJsonLine,
} from './support/interop.js';

const SDK_PLUGIN = fileURLToPath(new URL('./fixtures/sdk-plugin.mjs', import.meta.url));

/** Lines of Docker's engine log that mean it had to force a plugin out, or that a plugin failed. */
const ESCALATION =
  /did not shut down|timeout killing|crashed|sending SIGKILL|returned sigint error|registration timed out/;

/**
 * How an SDK plugin (launched or started by hand) may end when Docker's engine (tree fa7ff078)
 * shuts down: with its Shutdown RPC, or with the session closed before one reached it. Both are the plugin exiting 0 by
 * itself. The second is Docker's own race: on shutdown the supervisor's context ends first, and
 * each plugin's `register` goroutine then removes it from the registry and calls `Close` (Shutdown
 * RPC, then close) while `parallelStop` finds the registry empty and the engine goes on to exit;
 * when the process exits before that goroutine's Shutdown is sent, the plugin only sees the socket
 * close. Seen in about one run in three of this file, before and after our changes alike.
 */
const cleanExit = (mode: 'launched' | 'external') => [`0 shutdown (${mode})`, `0 engine-closed (${mode})`];
const CLEAN_LAUNCHED_EXIT = cleanExit('launched');

/** /proc/<pid>/stat: the process group and the session of a process. */
function groupAndSession(pid: number): { pgid: number; sid: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // pid (comm) state ppid pgrp session ...; comm may hold spaces or parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pgid: Number(fields[2]), sid: Number(fields[3]) };
}

describe.runIf(inject('tiers').includes('docker'))(
  'our plugin SDK under Docker’s Go engine (tree fa7ff078)',
  () => {
    const t = useInterop();
    const oldClient = () => goBinary('docker-client-old');
    const headClient = () => goBinary('docker-client');

    /**
     * Puts our SDK plugin into the plugins folder as `name`. Docker's engine launches it with no
     * environment but the launch variable (no PATH, no INTEROP_*), so the file is a wrapper with an
     * absolute interpreter that sets the fixture's variables and imports it. By default the
     * fixture guards SIGINT from start to exit, as a Go plugin does (see the last test for why).
     */
    function addSdkPlugin(name: string, env: Record<string, string> = { INTEROP_GUARD_SIGINT: '1' }) {
      const path = join(t.pluginsDir, name);
      const settings = Object.entries({ INTEROP_PID_DIR: t.pidDir, ...env })
        .map(([k, v]) => `process.env[${JSON.stringify(k)}] = ${JSON.stringify(v)};\n`)
        .join('');
      writeFileSync(path, `#!${process.execPath}\n${settings}import(${JSON.stringify(SDK_PLUGIN)});\n`);
      chmodSync(path, 0o755);
    }

    async function startEngine(): Promise<SpawnedProcess> {
      // Docker's 5 s registration timeout is shorter than a Node plugin's start on a loaded 2-core
      // machine; a plugin it gives up on gets SIGINT while still starting.
      const engine = t.spawn(
        goBinary('docker-engine'),
        ['-socket', t.socketPath, '-plugins', t.pluginsDir, '-registration-timeout', '60s'],
        {
          PATH: process.env.PATH ?? '',
          HOME: t.dir,
        },
      );
      await waitForJsonLine<{ ready: boolean }>(engine, 'Docker’s engine to be ready', { timeoutMs: 20_000 });
      return engine;
    }

    function startByHand(name: string): SpawnedProcess {
      return t.spawn(process.execPath, [SDK_PLUGIN], {
        PATH: process.env.PATH ?? '',
        SECRETS_ENGINE_SOCKET: t.socketPath,
        FIXTURE_NAME: name,
        INTEROP_PID_DIR: t.pidDir,
      });
    }

    /** Docker's OLD client's listing, once `names` are all registered. */
    async function listedOnce(names: string[]) {
      return waitFor(
        `${names.join(', ')} to be registered with Docker’s engine`,
        async () => {
          const out = await runClient(oldClient(), t.socketPath, 'list');
          if (!out.ok) return undefined;
          const listed = out.plugins!.map((p) => p.name);
          return names.every((n) => listed.includes(n)) ? out.plugins! : undefined;
        },
        { timeoutMs: 20_000 },
      );
    }

    it('launched via fd 3: registers (OLD route), listed, resolves for Docker’s clients and ours with values, metadata and timestamps intact', async () => {
      addSdkPlugin('ts-alpha');
      const engine = await startEngine();
      expect(await listedOnce(['ts-alpha'])).toEqual([
        { name: 'ts-alpha', version: 'v1.2.3', pattern: 'ts-alpha/**', external: true },
      ]);
      // Docker's own words: the registration went through (on resolver.v1.RegisterService, the only
      // registration route this engine has, so through our SDK's fallback).
      expect(engine.stderr()).toContain(
        'Plugin ts-alpha@v1.2.3 registered successfully with pattern ts-alpha/**',
      );
      const [pid] = t.recordedPids();

      const before = Date.now();
      const one = await runClient(oldClient(), t.socketPath, 'get', 'ts-alpha/db/password');
      expect(one.ok && one.envelopes).toEqual([
        {
          id: 'ts-alpha/db/password',
          value: Buffer.from('hunter2').toString('base64'),
          provider: 'ts-alpha',
          version: 'sv3',
          metadata: { owner: 'ts', requested: 'ts-alpha/db/password' },
          createdAt: '2024-05-06T07:08:09.123Z',
          resolvedAt: expect.any(String),
          expiresAt: '2030-01-02T03:04:05Z',
        },
      ]);
      // resolved_at unset by the plugin: Docker's engine fills time.Now() (nanoseconds).
      const resolvedMs = Date.parse(one.ok ? one.envelopes![0]!.resolvedAt : '');
      expect(resolvedMs).toBeGreaterThanOrEqual(before - 1_000);
      expect(resolvedMs).toBeLessThanOrEqual(Date.now() + 1_000);

      // Docker's HEAD client on Docker's OLD engine: the narrowed pattern, bytes, Go zero times.
      const all = await runClient(headClient(), t.socketPath, 'get', '**');
      expect(all.ok && all.envelopes!.map((e) => [e.id, e.provider, e.metadata?.requested])).toEqual([
        ['ts-alpha/db/password', 'ts-alpha', 'ts-alpha/**'],
        ['ts-alpha/bin/blob', 'ts-alpha', 'ts-alpha/**'],
      ]);
      const blob = all.ok ? all.envelopes![1]! : undefined;
      expect(blob).toMatchObject({
        value: Buffer.from(BLOB).toString('base64'),
        version: '',
        createdAt: GO_ZERO,
        expiresAt: GO_ZERO,
      });

      // Our client on Docker's engine.
      using client = createClient({ socketPath: t.socketPath, timeoutMs: 10_000 });
      const [secret] = await client.getSecrets('ts-alpha/db/password');
      expect([secret!.id, secret!.provider, secret!.revealText(), secret!.version]).toEqual([
        'ts-alpha/db/password',
        'ts-alpha',
        'hunter2',
        'sv3',
      ]);
      expect(secret!.createdAt?.toISOString()).toBe('2024-05-06T07:08:09.123Z');
      expect(secret!.expiresAt?.toISOString()).toBe('2030-01-02T03:04:05.000Z');

      // Not found, as Docker's engine says it.
      const missing = await runClient(oldClient(), t.socketPath, 'get', 'ts-alpha/missing');
      expect(missing).toMatchObject({ ok: false, notFound: true });

      // Evidence for issue 13 item 6: Docker's engine starts a plugin in its own process group and
      // session (no Setpgid/Setsid), and gives it no environment but the launch variable.
      expect(groupAndSession(pid!)).toEqual(groupAndSession(engine.pid));
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
      expect(environ.map((e) => e.slice(0, e.indexOf('=')))).toEqual([
        'DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG',
      ]);
      expect(engine.stderr()).not.toMatch(ESCALATION);
    });

    it('our client lists the plugins of Docker’s engine (the OLD ListService, issue 13 item 4)', async () => {
      addSdkPlugin('ts-alpha');
      await startEngine();
      await listedOnce(['ts-alpha']);
      using client = createClient({ socketPath: t.socketPath, timeoutMs: 10_000 });
      const plugins = await client.listPlugins();
      expect(plugins).toMatchObject([
        { name: 'ts-alpha', version: 'v1.2.3', pattern: 'ts-alpha/**', external: true },
      ]);
    });

    it('started by hand: dials, /hijack upgrade, registers (OLD route), listed as external, resolves', async () => {
      const engine = await startEngine();
      const plugin = startByHand('ts-hand');
      expect(await listedOnce(['ts-hand'])).toEqual([
        { name: 'ts-hand', version: 'v1.2.3', pattern: 'ts-hand/**', external: true },
      ]);
      const out = await runClient(headClient(), t.socketPath, 'get', 'ts-hand/**');
      expect(out.ok && out.envelopes!.map((e) => [e.id, e.provider, e.version])).toEqual([
        ['ts-hand/db/password', 'ts-hand', 'sv3'],
        ['ts-hand/bin/blob', 'ts-hand', ''],
      ]);
      expect(isAlive(plugin.pid)).toBe(true);
      expect(engine.stderr()).not.toMatch(ESCALATION);
    });

    it('shutdown (SIGINT to Docker’s engine): launched and hand-started plugins exit 0 by themselves, nothing escalated', async () => {
      addSdkPlugin('ts-a');
      addSdkPlugin('ts-b');
      const engine = await startEngine();
      const byHand = startByHand('ts-hand');
      await listedOnce(['ts-a', 'ts-b', 'ts-hand']);
      const launched = t.recordedPids().filter((p) => p !== byHand.pid);
      expect(launched).toHaveLength(2);

      const asked = performance.now();
      engine.child.kill('SIGINT');
      expect(await engine.exited).toEqual({ code: 0, signal: null });
      expect(await byHand.exited).toEqual({ code: 0, signal: null });
      await waitFor('the launched plugins to be gone', () => launched.every((p) => !isAlive(p)), {
        timeoutMs: 10_000,
      });
      const ms = Math.round(performance.now() - asked);
      if (process.env.INTEROP_VERBOSE)
        process.stderr.write(`docker engine shutdown with 3 SDK plugins: ${ms} ms\n`);
      for (const p of launched)
        expect(CLEAN_LAUNCHED_EXIT, `launched plugin ${p}`).toContain(t.exitMarker(p));
      expect(cleanExit('external')).toContain(t.exitMarker(byHand.pid));
      // Docker's engine sends SIGINT right after the Shutdown it asked for (compatibility.md 11).
      // A plugin that already wrote its exit marker (checked above: it obeyed and finished) can
      // still be caught by it while the process is tearing down, and Docker's engine then warns
      // "returned sigint error" and counts the exit as clean; Go plugins share that race. Only that
      // warning is allowed, and only for plugins proven to have finished.
      expect(
        engine
          .stderr()
          .split('\n')
          .filter((l) => ESCALATION.test(l))
          .filter((l) => !/Plugin ts-[ab] returned sigint error/.test(l)),
      ).toEqual([]);
      expect(engine.stderr()).toContain('engine.Run returned nil');
    });

    it('kill -9 of a launched plugin: Docker’s engine launches it again, and it resolves', async () => {
      addSdkPlugin('ts-alpha');
      const engine = await startEngine();
      await listedOnce(['ts-alpha']);
      const [pid] = t.recordedPids();
      process.kill(pid!, 'SIGKILL');
      const again = await waitFor(
        'Docker’s engine to launch the plugin again',
        () => t.recordedPids().find((p) => p !== pid && isAlive(p)),
        { timeoutMs: 30_000 },
      );
      await waitFor(
        'the new plugin process to resolve',
        async () => {
          const out = await runClient(oldClient(), t.socketPath, 'get', 'ts-alpha/db/password');
          return out.ok ? out : undefined;
        },
        { timeoutMs: 20_000 },
      );
      expect(t.exitMarker(pid!)).toBeUndefined(); // killed, not exited by itself
      engine.child.kill('SIGINT');
      expect((await engine.exited).code).toBe(0);
      await waitFor('the relaunched plugin to exit', () => !isAlive(again), { timeoutMs: 10_000 });
      expect(CLEAN_LAUNCHED_EXIT).toContain(t.exitMarker(again));
    });

    it('kill -9 of Docker’s engine: the plugins exit 0 by themselves; an engine started again launches them anew', async () => {
      addSdkPlugin('ts-alpha');
      const first = await startEngine();
      const byHand = startByHand('ts-hand');
      await listedOnce(['ts-alpha', 'ts-hand']);
      const [launched] = t.recordedPids().filter((p) => p !== byHand.pid);
      first.child.kill('SIGKILL');
      await first.exited;
      expect(await byHand.exited).toEqual({ code: 0, signal: null });
      await waitFor('the launched plugin to exit by itself', () => !isAlive(launched!), {
        timeoutMs: 10_000,
      });
      expect(t.exitMarker(launched!)).toBe('0 engine-closed (launched)');
      expect(t.exitMarker(byHand.pid)).toBe('0 engine-closed (external)');

      const second = await startEngine();
      expect(await listedOnce(['ts-alpha'])).toEqual([
        { name: 'ts-alpha', version: 'v1.2.3', pattern: 'ts-alpha/**', external: true },
      ]);
      const out = await runClient(oldClient(), t.socketPath, 'get', 'ts-alpha/db/password');
      expect(out.ok && out.envelopes!.map((e) => e.provider)).toEqual(['ts-alpha']);
      second.child.kill('SIGINT');
      expect((await second.exited).code).toBe(0);
    });

    it('duplicate names: a second plugin with a taken name is turned away; the first keeps serving', async () => {
      const engine = await startEngine();
      const first = startByHand('ts-dup');
      await listedOnce(['ts-dup']);
      const second = startByHand('ts-dup');
      const exit = await second.exited;
      // Docker's engine accepts the registration, finds the name taken, and shuts the newcomer down
      // (a difference from ours, which refuses in the RegisterPlugin response: compatibility.md).
      await waitFor('Docker’s engine to log the refusal', () =>
        /registering dynamic plugin: .*ts-dup/.test(engine.stderr()),
      );
      expect(t.exitMarker(second.pid), `second plugin exit ${JSON.stringify(exit)}`).toBe(
        '0 shutdown (external)',
      );
      expect(exit).toEqual({ code: 0, signal: null });
      const out = await runClient(oldClient(), t.socketPath, 'list');
      expect(out.ok && out.plugins!.map((p) => p.name)).toEqual(['ts-dup']);
      const got = await runClient(oldClient(), t.socketPath, 'get', 'ts-dup/db/password');
      expect(got.ok && got.envelopes!.map((e) => e.provider)).toEqual(['ts-dup']);
      expect(isAlive(first.pid)).toBe(true);
      engine.child.kill('SIGINT');
      expect(await first.exited).toEqual({ code: 0, signal: null });
    });

    it('a plugin still finishing after serve() exits 0 under Docker’s engine when it keeps a SIGINT listener of its own', async () => {
      // Docker's engine (watcher.Close): Shutdown RPC, close the session, then (when the process is
      // still there) SIGINT, and SIGKILL after its shutdown timeout. Docker's Go plugins keep their
      // SIGINT handler until main returns. Our SDK listens once, and only while serving, so a
      // plugin with no listener of its own can die of that SIGINT after obeying Shutdown: seen 1
      // run in 6 (Docker logs "Plugin … returned sigint error"); timing-dependent, so not asserted.
      // docs/compatibility.md difference 10. With its own listener (as here, 300 ms of "cleanup"
      // after serve()) the plugin exits 0 whatever the timing. The cleanup stays well under the
      // SDK's orphan exit (ServeOptions.orphanExitMs, 1 s after an engine closed the session
      // without a Shutdown, which Docker's shutdown race can do: CLEAN_LAUNCHED_EXIT); at 1 s the
      // two raced and the process sometimes exited 0 before writing its marker.
      addSdkPlugin('ts-a', { INTEROP_GUARD_SIGINT: '1', INTEROP_CLEANUP_MS: '300' });
      const engine = await startEngine();
      await listedOnce(['ts-a']);
      const [pid] = t.recordedPids();
      engine.child.kill('SIGINT');
      expect((await engine.exited).code).toBe(0);
      await waitFor('the plugin to be gone', () => !isAlive(pid!), { timeoutMs: 10_000 });
      expect(CLEAN_LAUNCHED_EXIT).toContain(t.exitMarker(pid!));
      expect(engine.stderr()).not.toMatch(ESCALATION);
    });
  },
);
