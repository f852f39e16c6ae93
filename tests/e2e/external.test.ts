// Scenarios 2 and 11: a plugin started by hand joins through /hijack (protocol.md §3.2–§3.4),
// resolves, and leaves the registry when it exits; a second plugin with a taken name is refused in
// the RegisterPlugin response itself with already_exists (§0 "Registration", §5.1 step 4), which
// the SDK reports as a RegistrationError.
import { Code, ConnectError } from '@connectrpc/connect';
import { createPlugin, RegistrationError } from '@secrets-engine/plugin-sdk';
import { pluginsv1 } from '@secrets-engine/proto';
import { describe, expect, it } from 'vitest';
import { engineClients, isAlive, listByName, useE2E, waitFor } from './support/e2e.js';

describe('a plugin started by hand', () => {
  const e2e = useE2E();

  it.each([
    ['SIGTERM (graceful)', 'SIGTERM'],
    ['SIGKILL', 'SIGKILL'],
  ] as const)(
    'joins through /hijack, is listed as external, resolves, and leaves on %s',
    async (_label, signal) => {
      const engine = e2e.engine();
      await engine.start();
      const clients = engineClients(e2e.socketPath);

      const ext = e2e.startExternalPlugin('by-hand');
      const listed = await waitFor('the external plugin to register', async () =>
        (await listByName(clients)).get('by-hand'),
      );
      // §3.4, §7.6: hijacked plugins are external and not configurable (no process to manage).
      expect(listed).toMatchObject({
        version: 'v1.2.3',
        external: true,
        configurable: false,
        disabled: false,
        runStatus: pluginsv1.RunStatus.RUNNING,
        metadata: { case: 'secretsProvider', value: { pattern: 'by-hand/**' } },
      });
      expect(engine.listPlugins()).toMatchObject([{ name: 'by-hand', kind: 'external', pid: undefined }]);

      const res = await clients.resolver.getSecrets({ pattern: 'by-hand/token' });
      expect(res.envelopes.map((e) => [e.id, e.provider, new TextDecoder().decode(e.value)])).toEqual([
        ['by-hand/token', 'by-hand', 'secret-for-by-hand/token'],
      ]);
      expect(res.envelopes[0]!.metadata.pid).toBe(String(ext.pid));

      // §7.2: an external plugin's IPC close removes it from the registry.
      ext.child.kill(signal);
      const exit = await ext.exited;
      if (signal === 'SIGTERM') {
        // The SDK handles SIGTERM: graceful close, serve() resolves, the process exits 0.
        expect(exit).toEqual({ code: 0, signal: null });
        expect(ext.stderr()).toContain('fixture plugin stopped: local');
      } else {
        expect(exit.signal).toBe('SIGKILL');
      }
      await waitFor('the external plugin to leave the registry', async () =>
        (await listByName(clients)).has('by-hand') ? undefined : true,
      );
      expect(engine.listPlugins()).toEqual([]);
      const gone = await clients.resolver
        .getSecrets({ pattern: 'by-hand/token' })
        .catch((e: unknown) => ConnectError.from(e));
      expect((gone as ConnectError).code).toBe(Code.NotFound);
      expect(isAlive(ext.pid)).toBe(false);
    },
  );

  it('with the name of a running launched plugin is refused with already_exists (RegistrationError)', async () => {
    e2e.addPlugin('taken');
    const engine = e2e.engine();
    await engine.start();
    const launchedPid = engine.listPlugins()[0]!.pid!;
    const clients = engineClients(e2e.socketPath);

    // In-process, to look at the error object the SDK gives a plugin author.
    const intruder = createPlugin({
      name: 'taken',
      version: 'v9.0.0',
      pattern: 'taken/**',
      socketPath: e2e.socketPath,
      getSecrets: () => [{ id: 'taken/x', value: 'intruder' }],
    });
    const err = await intruder.serve({ handleSignals: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RegistrationError);
    expect((err as Error).message).toBe(
      'engine rejected the registration (already_exists): plugin "taken" already exists',
    );
    const cause = (err as Error).cause;
    expect(cause).toBeInstanceOf(ConnectError);
    expect((cause as ConnectError).code).toBe(Code.AlreadyExists);

    // The same as a separate process: serve() rejects, the fixture exits 2 with the reason.
    const ext = e2e.startExternalPlugin('taken');
    expect(await ext.exited).toEqual({ code: 2, signal: null });
    expect(ext.stderr()).toMatch(/fixture plugin failed: RegistrationError: .*already exists/);

    // The launched plugin is untouched and still serves.
    const listed = (await listByName(clients)).get('taken');
    expect(listed).toMatchObject({
      runStatus: pluginsv1.RunStatus.RUNNING,
      version: 'v1.2.3',
      configurable: true,
    });
    expect(engine.listPlugins()[0]!.pid).toBe(launchedPid);
    const res = await clients.resolver.getSecrets({ pattern: 'taken/**' });
    expect(res.envelopes.map((e) => [e.provider, e.metadata.pid])).toEqual([['taken', String(launchedPid)]]);
  });
});
