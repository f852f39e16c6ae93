// Scenario 12: the SDK's conformance suite, which launches a plugin binary exactly as an engine does
// (protocol.md §1.2, §1.3) and checks registration, resolution, not_found, Shutdown and the
// no-orphan rule (§5.1, §6.4, §7.1, §7.5), passes against the fixture plugin.
import { checkPluginConformance } from '@secrets-engine/plugin-sdk/testing';
import { describe, expect, it } from 'vitest';
import { baseEnv, PLUGIN_FIXTURE, useE2E, waitGone } from './support/e2e.js';

describe('plugin conformance', () => {
  const e2e = useE2E();

  it('the fixture plugin binary passes checkPluginConformance', async () => {
    const report = await checkPluginConformance({
      command: PLUGIN_FIXTURE,
      name: 'conformance-plugin',
      env: { ...baseEnv(), ...e2e.fixtureEnv() },
      found: ['conformance-plugin/**', 'conformance-plugin/one'],
      missing: 'conformance-plugin/missing',
    });
    const failed = report.checks.filter((c) => !c.ok);
    expect(failed).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'registers within the timeout',
        'registers with its launch name',
        'an invalid pattern is invalid_argument',
        'answers Shutdown',
        'exits within 3 s when the engine connection closes',
      ]),
    );
    // Every process it launched is reaped.
    const pids = e2e.recordedPids();
    expect(pids.length).toBeGreaterThanOrEqual(2);
    await waitGone(pids, { timeoutMs: 1_000 });
  });

  it('reports a plugin that never registers', async () => {
    const report = await checkPluginConformance({
      command: PLUGIN_FIXTURE,
      env: { ...baseEnv(), ...e2e.fixtureEnv({ FIXTURE_MODE: 'no-register' }) },
      registrationTimeoutMs: 300,
      throwOnFailure: false,
    });
    expect(report.ok).toBe(false);
    expect(report.checks).toEqual([
      expect.objectContaining({ name: 'registers within the timeout', ok: false }),
    ]);
  });
});
