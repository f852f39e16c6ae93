// Scenario 10: disable and enable a launched plugin through the engine socket
// (plugins.v1.PluginManagementService, protocol.md §4.2, §7.7): disable stops its process (STOPPED,
// reaped) and excludes it from resolution; enable launches it again.
import { Code, ConnectError } from '@connectrpc/connect';
import { pluginsv1 } from '@secrets-engine/proto';
import { describe, expect, it } from 'vitest';
import { engineClients, isAlive, listByName, useE2E } from './support/e2e.js';

describe('plugin management over the engine socket', () => {
  const e2e = useE2E();

  it('disable stops and excludes a launched plugin; enable relaunches it', async () => {
    e2e.addPlugin('keep');
    e2e.addPlugin('toggle');
    const engine = e2e.engine({ fixture: { FIXTURE_PATTERN: 'shared/**' } });
    await engine.start();
    const clients = engineClients(e2e.socketPath);
    const firstPid = engine.listPlugins().find((p) => p.name === 'toggle')!.pid!;
    const providers = async () =>
      (await clients.resolver.getSecrets({ pattern: 'shared/k' })).envelopes.map((e) => e.provider);
    expect(await providers()).toEqual(['keep', 'toggle']);

    await clients.management.disablePlugin({ name: 'toggle' });
    // DisablePlugin answers once the process is gone.
    expect(isAlive(firstPid)).toBe(false);
    expect((await listByName(clients)).get('toggle')).toMatchObject({
      disabled: true,
      runStatus: pluginsv1.RunStatus.STOPPED,
      statusMessage: 'disabled',
      configurable: true,
    });
    expect(engine.listPlugins().find((p) => p.name === 'toggle')?.pid).toBeUndefined();
    expect(await providers()).toEqual(['keep']);
    // Disabling twice is a no-op.
    await clients.management.disablePlugin({ name: 'toggle' });

    await clients.management.enablePlugin({ name: 'toggle' });
    const listed = (await listByName(clients)).get('toggle');
    expect(listed).toMatchObject({
      disabled: false,
      runStatus: pluginsv1.RunStatus.RUNNING,
      statusMessage: '',
    });
    const secondPid = engine.listPlugins().find((p) => p.name === 'toggle')!.pid!;
    expect(secondPid).not.toBe(firstPid);
    expect(isAlive(secondPid)).toBe(true);
    const res = await clients.resolver.getSecrets({ pattern: 'shared/k' });
    expect(res.envelopes.map((e) => [e.provider, e.metadata.pid])).toEqual([
      ['keep', expect.any(String)],
      ['toggle', String(secondPid)],
    ]);
    expect(e2e.recordedPids()).toHaveLength(3);

    // An unknown name is not_found.
    const unknown = await clients.management
      .disablePlugin({ name: 'nope' })
      .catch((e: unknown) => ConnectError.from(e));
    expect((unknown as ConnectError).code).toBe(Code.NotFound);
  });
});
