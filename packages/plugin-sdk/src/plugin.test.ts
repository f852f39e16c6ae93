// The plugin SDK against an in-process engine (protocol.md §5.1, §6.4, §7.1).
import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { createPlugin, NotFoundError } from './index.js';
import { startPluginHarness } from './testing/index.js';

const options = {
  name: 'demo',
  version: 'v1.0.0',
  pattern: 'demo/**',
  getSecrets: (pattern: string) => {
    if (pattern === 'demo/missing') throw new NotFoundError();
    if (pattern === 'demo/boom') throw new Error('backend down');
    return [{ id: 'demo/a', value: new TextEncoder().encode('value-a') }];
  },
};

describe('plugin SDK', () => {
  it('registers with name, version and pattern, and serves GetSecrets', async () => {
    await using harness = await startPluginHarness(options);
    expect(harness.registration).toEqual({
      name: 'demo',
      version: 'v1.0.0',
      pattern: 'demo/**',
      protocol: 'plugins.v1',
    });
    const [env] = await harness.getSecrets('demo/a');
    expect(env?.id).toBe('demo/a');
    expect(env?.revealText()).toBe('value-a');
  });

  it('maps not-found, bad patterns and other errors to the codes engines act on', async () => {
    await using harness = await startPluginHarness(options);
    const code = async (p: string) => (await harness.getSecrets(p).catch((e: unknown) => e)) as ConnectError;
    const nf = await code('demo/missing');
    expect([nf.code, nf.rawMessage]).toEqual([Code.NotFound, 'secret not found']);
    const bad = await code('a*b');
    expect(bad.code).toBe(Code.InvalidArgument);
    const boom = await code('demo/boom');
    expect([boom.code, boom.rawMessage]).toEqual([
      Code.Internal,
      'failed to get secret "demo/boom": backend down',
    ]);
    expect(boom).toBeInstanceOf(ConnectError);
  });

  it('a ConnectError made with the re-exported ConnectError and Code reaches the engine unchanged', async () => {
    const sdk = await import('./index.js');
    expect(sdk.ConnectError).toBe(ConnectError);
    expect(sdk.Code).toBe(Code);
    await using harness = await startPluginHarness({
      ...options,
      getSecrets: () => {
        throw new sdk.ConnectError('secret service answered 503', sdk.Code.Unavailable);
      },
    });
    const err = (await harness.getSecrets('demo/a').catch((e: unknown) => e)) as ConnectError;
    expect([err.code, err.rawMessage]).toEqual([Code.Unavailable, 'secret service answered 503']);
  });

  it('Shutdown ends serve() with reason shutdown', async () => {
    const harness = await startPluginHarness(options);
    const result = await harness.shutdown();
    expect(result).toEqual({ reason: 'shutdown', mode: 'external' });
    await harness.close();
  });

  it('validates its options at once', () => {
    expect(() => createPlugin({ ...options, version: '1.0.0' })).toThrow(/version/);
    expect(() => createPlugin({ ...options, pattern: 'a*' })).toThrow(/invalid pattern/);
  });
});
