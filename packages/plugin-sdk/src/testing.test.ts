// The testing entry: the in-process harness and the conformance suite for plugin binaries.
import { fileURLToPath } from 'node:url';
import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it, vi } from 'vitest';
import { recordingLogger } from './__tests__/engine.js';
import { createPlugin, type PluginOptions, RegistrationError } from './index.js';
import { ConformanceError, checkPluginConformance, startPluginHarness } from './testing/index.js';

const fixture = (name: string) => fileURLToPath(new URL(`./__tests__/fixtures/${name}`, import.meta.url));

const options: PluginOptions = {
  name: 'harnessed',
  version: 'v2.0.0',
  pattern: 'h/**',
  getSecrets: (pattern) => [{ id: pattern.replace('**', 'x'), value: `value of ${pattern}` }],
};

describe('startPluginHarness', () => {
  it('works with PluginOptions', async () => {
    await using harness = await startPluginHarness(options);
    expect(harness.registration).toEqual({
      name: 'harnessed',
      version: 'v2.0.0',
      pattern: 'h/**',
      protocol: 'plugins.v1',
    });
    expect(harness.plugin.name).toBe('harnessed');
    const [env] = await harness.getSecrets('h/**');
    expect([env?.id, env?.revealText()]).toEqual(['h/x', 'value of h/**']);
  });

  it('works with a Plugin, and shutdown() ends its serve() with reason shutdown', async () => {
    const plugin = createPlugin({ ...options, env: {} });
    const harness = await startPluginHarness(plugin);
    expect(harness.plugin).toBe(plugin);
    expect(await harness.shutdown()).toEqual({ reason: 'shutdown', mode: 'external' });
    await harness.close();
    await harness.close();
  });

  it('sends the engine name and version it is given', async () => {
    const logger = recordingLogger();
    await using _harness = await startPluginHarness(
      { ...options, logger },
      { engineName: 'my-engine', engineVersion: 'v3.1.4' },
    );
    // startPluginHarness returns once the engine has the registration; the plugin logs the answer.
    await vi.waitFor(() => expect(logger.lines.join('\n')).toContain('"engine":"my-engine@v3.1.4"'));
  });

  it('refuseWith: the plugin sees the refusal (startPluginHarness rejects with RegistrationError)', async () => {
    const err = await startPluginHarness(options, {
      refuseWith: new ConnectError('plugin "harnessed" already exists', Code.AlreadyExists),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistrationError);
    expect((err as Error).message).toBe(
      'engine rejected the registration (already_exists): plugin "harnessed" already exists',
    );
  });

  it('getSecrets rejects with the ConnectError the engine would see', async () => {
    await using harness = await startPluginHarness({ ...options, getSecrets: () => [] });
    await expect(harness.getSecrets('h/a')).rejects.toMatchObject({ code: Code.NotFound });
  });
});

describe('checkPluginConformance', () => {
  it('passes for a well-behaved plugin binary', async () => {
    const report = await checkPluginConformance({
      // Generous: node's start-up on a loaded machine is not what these tests are about.
      registrationTimeoutMs: 30_000,
      command: process.execPath,
      args: [fixture('provider.mjs')],
      name: 'conformant',
      found: ['fixture/a', 'fixture/**'],
      missing: 'fixture/nothing-here',
    });
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual([
      'registers within the timeout',
      'registers with its launch name',
      'registers a valid version',
      'registers a valid pattern',
      'registers a valid name',
      'an invalid pattern is invalid_argument',
      'resolves fixture/a',
      'envelopes for fixture/a have valid IDs inside the pattern',
      'resolves fixture/**',
      'envelopes for fixture/** have valid IDs inside the pattern',
      'answers not_found "secret not found" for fixture/nothing-here',
      'answers Shutdown',
      'exits cleanly after Shutdown (within 5 s)',
      'exits within 3 s when the engine connection closes',
    ]);
    expect(report.checks.every((c) => c.ok)).toBe(true);
  });

  it('fails with a ConformanceError listing the failed checks for a misbehaving plugin', async () => {
    const err = await checkPluginConformance({
      // Generous: node's start-up on a loaded machine is not what these tests are about.
      registrationTimeoutMs: 30_000,
      command: process.execPath,
      args: [fixture('misbehaving.mjs')],
      name: 'expected-name',
      found: ['fixture/a'],
      missing: 'fixture/nothing-here',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConformanceError);
    const failed = (err as ConformanceError).report.checks.filter((c) => !c.ok);
    expect(failed.map((c) => c.name)).toEqual([
      'registers with its launch name',
      'an invalid pattern is invalid_argument',
      'answers not_found "secret not found" for fixture/nothing-here',
    ]);
    expect(failed[0]?.detail).toBe('registered as "wrong-name"');
    expect((err as Error).message).toContain('3 check(s) failed');
    expect((err as Error).message).toContain('✗ registers with its launch name: registered as "wrong-name"');
  });

  it('throwOnFailure: false returns the failing report instead', async () => {
    const report = await checkPluginConformance({
      // Generous: node's start-up on a loaded machine is not what these tests are about.
      registrationTimeoutMs: 30_000,
      command: process.execPath,
      args: [fixture('misbehaving.mjs')],
      throwOnFailure: false,
    });
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'registers with its launch name')?.ok).toBe(false);
  });

  it('a binary that never registers fails "registers within the timeout" and is reaped', async () => {
    const report = await checkPluginConformance({
      command: process.execPath,
      args: ['-e', 'setTimeout(() => {}, 60_000)'],
      registrationTimeoutMs: 300,
      throwOnFailure: false,
    });
    expect(report).toEqual({
      ok: false,
      checks: [
        { name: 'registers within the timeout', ok: false, detail: expect.stringContaining('stderr') },
      ],
    });
  });
});

describe('startPluginHarness behaves like the engine', () => {
  it('narrows the requested pattern against the registered pattern', async () => {
    const seen: string[] = [];
    await using h = await startPluginHarness({
      name: 'narrowed',
      version: 'v1.0.0',
      pattern: 'realm/db/**',
      getSecrets: (pattern) => {
        seen.push(pattern);
        return [{ id: 'realm/db/pw', value: new Uint8Array([1]) }];
      },
    });
    await h.getSecrets('realm/**');
    expect(seen).toEqual(['realm/db/**']);
    // Outside the plugin's pattern the engine never calls it.
    await expect(h.getSecrets('other/**')).rejects.toMatchObject({ code: Code.NotFound });
    expect(seen).toEqual(['realm/db/**']);
  });

  it('registers under the name of its entry file, not the test runner worker', async () => {
    await using h = await startPluginHarness(
      { version: 'v1.0.0', pattern: 'x/**', getSecrets: () => [] },
      { entry: '/plugins/my-vault.mjs' },
    );
    expect(h.registration.name).toBe('my-vault');
    expect(h.plugin.name).toBe('my-vault');
  });

  it('without a name or an entry registers as `plugin`, never `forks`', async () => {
    await using h = await startPluginHarness({ version: 'v1.0.0', pattern: 'x/**', getSecrets: () => [] });
    expect(h.registration.name).toBe('plugin');
  });
});
