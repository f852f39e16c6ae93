// Secret values never reach the logger (protocol.md §0, §6.4): every logger call of a whole run
// (all levels, children included, yamux's own debug lines too) is captured and searched for the
// value in plain text, base64 and hex.
import { Code, ConnectError } from '@connectrpc/connect';
import { expect, it } from 'vitest';
import { recordingLogger } from './__tests__/engine.js';
import { createPlugin, NotFoundError } from './index.js';
import { startPluginHarness } from './testing/index.js';

const SECRET = 'zebra-S3cr3t-7f4d2c-ünïcode';

it('a run that resolves, fails and drops envelopes logs nothing of the secret value', async () => {
  const logger = recordingLogger();
  const plugin = createPlugin({
    name: 'logs',
    version: 'v1.0.0',
    pattern: 'logs/**',
    logger,
    getSecrets: async (pattern, { signal }) => {
      switch (pattern) {
        case 'logs/fail':
          throw new Error('backend down');
        case 'logs/connect-fail':
          throw new ConnectError('no access', Code.PermissionDenied);
        case 'logs/missing':
          throw new NotFoundError();
        case 'logs/slow':
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
          return [{ id: 'logs/slow', value: SECRET }];
        default:
          return [
            { id: 'logs/a', value: SECRET },
            { id: 'logs//invalid', value: SECRET },
            { id: 'logs/bytes', value: new TextEncoder().encode(SECRET), metadata: { note: 'not secret' } },
            { id: 'logs/wrong-type', value: { toString: () => SECRET } as never },
          ];
      }
    },
  });
  await using harness = await startPluginHarness(plugin);
  const envelopes = await harness.getSecrets('logs/**');
  expect(envelopes.map((e) => [e.id, e.revealText()])).toEqual([
    ['logs/a', SECRET],
    ['logs/bytes', SECRET],
  ]);
  for (const pattern of ['logs/fail', 'logs/connect-fail', 'logs/missing', 'bad*pattern']) {
    await expect(harness.getSecrets(pattern)).rejects.toBeInstanceOf(ConnectError);
  }
  await expect(harness.getSecrets('logs/slow', { timeoutMs: 100 })).rejects.toBeInstanceOf(ConnectError);
  expect((await harness.shutdown()).reason).toBe('shutdown');

  const all = logger.lines.join('\n');
  // The run did log: registration, the failure, the dropped envelopes, the stop.
  expect(all).toContain('registered with engine');
  expect(all).toContain('getSecrets failed');
  expect(all).toContain('dropping an invalid envelope');
  expect(all).toContain('plugin stopped');
  const bytes = Buffer.from(SECRET, 'utf8');
  for (const needle of [
    SECRET,
    'zebra-S3cr3t',
    bytes.toString('base64'),
    bytes.toString('base64url'),
    bytes.toString('hex'),
    JSON.stringify(SECRET).slice(1, -1),
  ]) {
    expect(all).not.toContain(needle);
  }
});
