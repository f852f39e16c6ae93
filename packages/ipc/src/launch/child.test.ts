// Engine-launched plugins as real child processes over the fd-3 socketpair (protocol.md §1.2,
// §1.3, §1.5; §2.1 roles; §2.3 one stream per call; §2.4 close; §7.2 crash detection; §7.5 and
// §0 "No orphans"; §8.2 x/ipc: "ping pong on both sides", "stopping the plugin/runtime results in
// EOF on the other side").
//
// The children run fixtures under src/__tests__/fixtures/ that import the BUILT package
// (dist/index.js), so `tsc -b` must have run first: turbo's `test` task depends on `build`.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { isAlive } from '@secrets-engine/test-utils/process.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { delay, waitFor } from '../__tests__/helpers.js';
import { createMuxSession, type MuxSession } from '../mux/session.js';
import { createSessionTransport, serveConnect } from '../rpc/connect.js';
import { LAUNCH_ENV, type LaunchedProcess, launchPlugin } from './launch.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, '..', '..');
const distIndex = join(packageDir, 'dist', 'index.js');
const PLUGIN = join(here, '..', '__tests__', 'fixtures', 'launched-plugin.mjs');
const ENGINE = join(here, '..', '__tests__', 'fixtures', 'launching-engine.mjs');
const BUILD_HINT = 'run `pnpm turbo run build --filter=@secrets-engine/ipc` (turbo runs it before `test`)';

beforeAll(() => {
  // The fixtures run dist/, not src/: fail loudly rather than test a missing or stale build.
  if (!existsSync(distIndex)) {
    throw new Error(
      `child.test.ts: ${distIndex} is missing; the child fixtures import the built package: ${BUILD_HINT}`,
    );
  }
  const buildInfo = join(packageDir, 'dist', 'tsconfig.build.tsbuildinfo');
  const builtAt = existsSync(buildInfo) ? statSync(buildInfo).mtimeMs : 0;
  const srcDir = join(packageDir, 'src');
  for (const file of readdirSync(srcDir, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts') || file.endsWith('.test.ts') || file.startsWith('__tests__')) continue;
    const js = join(packageDir, 'dist', file.replace(/\.ts$/, '.js'));
    if (!existsSync(js)) throw new Error(`child.test.ts: dist is incomplete (no ${js}): ${BUILD_HINT}`);
    const srcAt = statSync(join(srcDir, file)).mtimeMs;
    if (srcAt > Math.max(statSync(js).mtimeMs, builtAt)) {
      throw new Error(`child.test.ts: dist is older than src/${file}: ${BUILD_HINT}`);
    }
  }
});

// --- child bookkeeping: every process is reaped, whatever the test did ---------------------------

const children: ChildProcess[] = [];
const strayPids: number[] = [];
const sessions: MuxSession[] = [];

afterEach(async () => {
  for (const session of sessions.splice(0)) session.abort();
  await Promise.all(
    children.splice(0).map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }),
  );
  for (const pid of strayPids.splice(0)) {
    if (isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
});

type ChildEvent = Record<string, unknown> & { event: string };

interface Watched {
  events: ChildEvent[];
  stderr: () => string;
  /** Resolves with the first event named `name` (and matching `where`), already seen or future. */
  next(name: string, where?: (e: ChildEvent) => boolean, timeoutMs?: number): Promise<ChildEvent>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Collects a child's JSON-lines stdout and its stderr (for failure messages). */
function watch(child: ChildProcess): Watched {
  children.push(child);
  const events: ChildEvent[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let pending = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        events.push(JSON.parse(line) as ChildEvent);
      } catch {
        events.push({ event: 'unparsed', line });
      }
    }
    for (const wake of waiters) wake();
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
      for (const wake of waiters) wake();
    });
  });
  const describeChild = () =>
    `events: ${JSON.stringify(events.map((e) => e.event))}, exit: ${child.exitCode ?? child.signalCode}, stderr: ${stderr.slice(-2000)}`;
  return {
    events,
    stderr: () => stderr,
    exited,
    next(name, where = () => true, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find((e) => e.event === name && where(e));
          if (found !== undefined) {
            done();
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            // Give the last stdout chunk a moment to arrive after 'exit'.
            setTimeout(() => {
              const late = events.find((e) => e.event === name && where(e));
              done();
              if (late !== undefined) resolve(late);
              else reject(new Error(`child exited before "${name}"; ${describeChild()}`));
            }, 50);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no "${name}" from the child within ${timeoutMs} ms; ${describeChild()}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    delay(ms).then(() => {
      throw new Error(`${what} did not happen within ${ms} ms`);
    }),
  ]);
}

/** Launches the plugin fixture and runs the engine's side: yamux server + RegisterService. */
function startPlugin(env: Record<string, string> = {}) {
  const launched: LaunchedProcess = launchPlugin({
    command: process.execPath,
    args: [PLUGIN],
    name: 'plugin-foo',
    registrationTimeoutMs: 5_000,
    env,
  });
  const child = watch(launched.child);
  const session = createMuxSession(launched.socket, { role: 'server' });
  sessions.push(session);
  const registrations: Array<{ name: string; version: string; pattern: string }> = [];
  serveConnect(session, {
    routes: (router) =>
      router.service(pluginsv1.RegisterService, {
        registerPlugin(req) {
          registrations.push({
            name: req.name,
            version: req.version,
            pattern: req.metadata.case === 'secretsProvider' ? req.metadata.value.pattern : '',
          });
          return { engineName: 'child-test-engine', engineVersion: `v1.0.${registrations.length}` };
        },
      }),
  });
  const plugin = createClient(resolverv1.ResolverService, createSessionTransport(session));
  return { launched, child, session, registrations, plugin };
}

/** The error a call rejects with; fails if it resolves. */
function settle(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => {
      throw new Error('expected the call to fail, but it succeeded');
    },
    (error: unknown) => error,
  );
}

function expectUnavailable(error: unknown): void {
  expect(error).toBeInstanceOf(ConnectError);
  expect((error as ConnectError).code, (error as Error).message).toBe(Code.Unavailable);
}

// --- tests ----------------------------------------------------------------------------------------

describe.skipIf(process.platform === 'win32')('launched plugin over fd 3 (protocol.md §1.2, §1.5)', () => {
  it('the child finds the socketpair on fd 3 and sees ONLY the given env plus the launch variable (§1.2 step 5, §1.3)', async () => {
    const env = { SE_CHILD_TEST: 'only-this', ANOTHER: 'value with spaces' };
    const { launched, child } = startPlugin(env);
    const started = await child.next('started');
    expect(launched.launchValue).toBe('{"name":"plugin-foo","timeout":5000000000,"fd":3}');
    const seen = { ...(started.env as Record<string, string>) };
    // macOS injects this one into every process; it is not ours.
    if (process.platform === 'darwin') delete seen.__CF_USER_TEXT_ENCODING;
    expect(seen).toEqual({ ...env, [LAUNCH_ENV]: launched.launchValue });
    expect(started.config).toEqual({ name: 'plugin-foo', timeoutMs: 5000, platform: 'unix', fd: 3 });
    expect(started.fdKind).toBe('socket');
    expect(started.pid).toBe(launched.child.pid);
  });

  it('ping-pong on both sides: two calls each way on one socket, one stream per call (§2.1, §2.3)', async () => {
    const { child, registrations, plugin } = startPlugin();
    // Plugin → engine: the fixture registers twice with the name from the launch variable.
    await child.next('registered', (e) => e.n === 2);
    expect(registrations).toEqual([
      { name: 'plugin-foo', version: 'v0.0.1', pattern: 'plugin-foo/**' },
      { name: 'plugin-foo', version: 'v0.0.2', pattern: 'plugin-foo/**' },
    ]);
    expect(child.events.filter((e) => e.event === 'registered')).toEqual([
      { event: 'registered', n: 1, engineName: 'child-test-engine', engineVersion: 'v1.0.1' },
      { event: 'registered', n: 2, engineName: 'child-test-engine', engineVersion: 'v1.0.2' },
    ]);
    // Engine → plugin.
    for (const pattern of ['foo/one', 'foo/two']) {
      const res = await plugin.getSecrets({ pattern });
      expect(res.envelopes.map((e) => e.id)).toEqual([pattern]);
      expect(new TextDecoder().decode(res.envelopes[0]?.value)).toBe(`from plugin-foo: ${pattern}`);
    }
    expect(child.events.some((e) => e.event === 'register-error')).toBe(false);
  });

  it('stopping the runtime results in EOF on the plugin side: the child sees "peer" and exits by itself (§2.4, §7.5)', async () => {
    const { child, session } = startPlugin();
    await child.next('registered', (e) => e.n === 2);
    await session.close({ timeoutMs: 500 });
    expect(await session.closed).toEqual({ kind: 'local' });
    const closed = await child.next('closed', undefined, 2_000);
    expect(closed).toMatchObject({ kind: 'peer' });
    // Exit code 0 and no `still-alive`: nothing kept the child's event loop running (exit 3 otherwise).
    expect(await withTimeout(child.exited, 2_000, 'the plugin exiting by itself')).toEqual({
      code: 0,
      signal: null,
    });
    expect(child.events.map((e) => e.event)).not.toContain('still-alive');
  });

  it('stopping the plugin results in EOF on the runtime side: a graceful plugin close is "peer" (§2.4)', async () => {
    const { child, session, plugin } = startPlugin();
    await child.next('registered', (e) => e.n === 2);
    // The answer still arrives: the plugin sends GoAway and drains before closing (§2.4).
    const res = await plugin.getSecrets({ pattern: 'close-session' });
    expect(res.envelopes[0]?.id).toBe('close-session');
    const reason = await withTimeout(session.closed, 2_000, "the engine's session closing");
    expect(reason).toEqual({ kind: 'peer', goAwayCode: 0 });
    expect(await child.next('closed')).toMatchObject({ kind: 'local' });
    expect(await withTimeout(child.exited, 2_000, 'the plugin exiting')).toEqual({ code: 0, signal: null });
  });

  it('a plugin process that just exits is "peer" on the runtime side (§7.2)', async () => {
    const { launched, child, session } = startPlugin();
    await child.next('registered', (e) => e.n === 2);
    launched.child.kill('SIGTERM'); // the fixture exits at once without closing its session
    expect(await withTimeout(child.exited, 2_000, 'the plugin exiting')).toEqual({ code: 0, signal: null });
    const reason = await withTimeout(session.closed, 1_000, "the engine's session closing");
    expect(reason.kind).toBe('peer');
  });

  it('SIGKILL during a slow call: the call fails with Unavailable when the socket goes, so does the next call (§7.2)', async () => {
    const { launched, child, session, plugin } = startPlugin();
    await child.next('registered', (e) => e.n === 2);
    const inFlight = settle(plugin.getSecrets({ pattern: 'slow' }));
    await child.next('slow-started');
    launched.child.kill('SIGKILL');
    // The slow call would answer after 30 s and the keep-alive is 30 s away: only the socket closing
    // can end the call within these bounds (how fast it does is for `pnpm bench`, not a test).
    expectUnavailable(await withTimeout(inFlight, 2_000, 'the in-flight call failing'));
    expectUnavailable(
      await withTimeout(settle(plugin.getSecrets({ pattern: 'after-kill' })), 1_000, 'the next call'),
    );

    expect(session.status).toBe('closed');
    expect((await session.closed).kind).not.toBe('local');
    expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('an engine killed with SIGKILL leaves no orphan: the plugin exits by itself within a second (§0 "No orphans", §7.5)', async () => {
    const engine = spawn(process.execPath, [ENGINE], { stdio: ['ignore', 'pipe', 'pipe'] });
    const watched = watch(engine);
    const ready = await watched.next('ready', undefined, 15_000);
    expect(ready.id).toBe('ready');
    const pluginPid = ready.pluginPid as number;
    expect(typeof pluginPid).toBe('number');
    strayPids.push(pluginPid);
    expect(isAlive(pluginPid)).toBe(true);
    // The plugin is in its own process group (launchPlugin's default), so the kill cannot reach it.
    const killedAt = Date.now();
    engine.kill('SIGKILL');
    expect(await watched.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await waitFor(() => !isAlive(pluginPid), 1_000 - (Date.now() - killedAt), 'the orphaned plugin to exit');
  });

  it('a set but invalid launch variable makes the plugin fail; there is no fallback to a manual launch (§1.3)', async () => {
    const child = watch(
      spawn(process.execPath, [PLUGIN], {
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
        env: { [LAUNCH_ENV]: '{"name":"plugin-foo","timeout":5000000000,"fd":2}' },
      }),
    );
    const failure = await child.next('launch-error');
    expect(failure).toMatchObject({
      name: 'LaunchConfigError',
      message: 'invalid file descriptor for plugin connection',
    });
    expect(await child.exited).toEqual({ code: 2, signal: null });
  });
});
