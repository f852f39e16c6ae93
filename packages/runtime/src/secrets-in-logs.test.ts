// Secret values never reach the logger (protocol.md §0; Go makes json.Marshal(Envelope) panic,
// §8.2 TestEnvelopeJSON). Every logger call of an engine is captured, at every level, while
// secrets are resolved through builtin and external plugins, including every failure path.
import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { expect, it, onTestFinished } from 'vitest';
import {
  builtin,
  captureLogger,
  dec,
  engineClients,
  envelope,
  joinEngine,
  tempSocketPath,
} from './__tests__/helpers.js';
import { createEngine } from './index.js';

it('no log line carries a secret value, whatever happens during resolution', async () => {
  const secret = `S3CR3T-${randomBytes(12).toString('hex')}`;
  const forms = [
    secret,
    Buffer.from(secret).toString('base64'),
    Buffer.from(secret).toString('hex'),
    JSON.stringify(Array.from(Buffer.from(secret))).slice(1, 40),
    // A Uint8Array (a wire envelope's value) serialises as {"0":83,"1":51,…}.
    JSON.stringify(new Uint8Array(Buffer.from(secret))).slice(1, 40),
  ];
  const logger = captureLogger();
  const engine = createEngine({
    socketPath: tempSocketPath(),
    logger,
    requestTimeoutMs: 150,
    registrationTimeoutMs: 300,
    plugins: [
      builtin('b-good', '**', () => [{ id: 'good/1', value: secret, metadata: { note: 'public' } }]),
      builtin(
        'b-bad-items',
        '**',
        () =>
          [
            { id: 'bad id', value: secret },
            { id: 'ok/meta', value: secret, metadata: { n: 1 } },
            { id: 'ok/date', value: secret, createdAt: 'yesterday' },
            { id: 'ok/value', value: [secret] },
          ] as never,
      ),
      builtin('b-throws', '**', () => {
        throw new Error('backend failed');
      }),
      builtin('b-hangs', '**', () => new Promise(() => {})),
      builtin('b-generator', '**', function* () {
        yield { id: 'gen/1', value: secret };
        throw new Error('generator failed');
      }),
    ],
  });
  onTestFinished(() => engine.close());
  await engine.start();

  const good = await joinEngine(engine.socketPath, {
    getSecrets: () => [
      envelope('ext/1', secret, { metadata: { k: 'v' } }),
      envelope('bad id', secret),
      envelope('ext/huge', secret, { createdAt: create(TimestampSchema, { seconds: 10n ** 15n, nanos: 0 }) }),
    ],
  });
  await good.register({ name: 'e-good' });
  const failing = await joinEngine(engine.socketPath, {
    getSecrets: () => {
      throw new ConnectError('upstream failed', Code.Internal);
    },
  });
  await failing.register({ name: 'e-failing' });
  const hanging = await joinEngine(engine.socketPath, { getSecrets: () => new Promise(() => {}) });
  await hanging.register({ name: 'e-hangs' });
  const duplicate = await joinEngine(engine.socketPath);
  await duplicate.register({ name: 'e-good' }).catch(() => {});
  await joinEngine(engine.socketPath); // never registers: disconnected by the timer

  // In-process resolution, with every kind of failure on the way.
  const direct = await engine.getSecrets('**');
  expect(direct.map((e) => `${e.provider}:${e.id}`)).toEqual(['b-good:good/1', 'e-good:ext/1']);
  expect(direct.every((e) => e.revealText() === secret)).toBe(true);
  // Over the socket (the envelope the engine cannot represent as a Date passes through).
  const wire = await engineClients(engine.socketPath).resolver.getSecrets({ pattern: '**' });
  expect(wire.envelopes.map((e) => dec(e.value))).toEqual([secret, secret, secret]);
  await engine.getSecrets('nothing/here').catch(() => {});
  await engine.getSecrets('bad*pattern').catch(() => {});
  await engine.disablePlugin('b-good');
  await engine.getSecrets('**');
  await engine.close();

  const lines = logger.lines();
  // The failures were logged, so the check below looked at real lines.
  expect(lines.some((l) => l.includes('plugin failed'))).toBe(true);
  expect(lines.some((l) => l.includes('plugin missed its deadline'))).toBe(true);
  expect(lines.some((l) => l.includes('dropping an invalid envelope'))).toBe(true);
  expect(lines.some((l) => l.includes('dropping an envelope with an invalid ID'))).toBe(true);
  expect(lines.some((l) => l.includes('dropping an envelope the engine cannot represent'))).toBe(true);
  expect(lines.length).toBeGreaterThan(15);
  for (const line of lines) {
    for (const form of forms) expect(line).not.toContain(form);
  }
});
