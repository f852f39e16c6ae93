// The programs the scratch projects run, written as a user of each package would write them.

// Scenario (a): a plugin, resolved through the SDK's testing harness.
export const PLUGIN_PROGRAM = `
import { createPlugin, match, NotFoundError } from '@secrets-engine/plugin-sdk';
import { startPluginHarness } from '@secrets-engine/plugin-sdk/testing';

const store = { 'demo/db/password': 'hunter2', 'demo/api/token': 'tok-123' };
const plugin = createPlugin({
  name: 'demo',
  version: 'v1.0.0',
  pattern: 'demo/**',
  getSecrets(pattern) {
    const found = Object.entries(store)
      .filter(([id]) => match(pattern, id))
      .map(([id, value]) => ({ id, value }));
    if (found.length === 0) throw new NotFoundError();
    return found;
  },
});
const harness = await startPluginHarness(plugin);
try {
  for (const s of await harness.getSecrets('demo/db/*')) console.log('resolved ' + s.id + '=' + s.revealText());
} finally {
  await harness.close();
}
`;

// Scenario (b), and also the engine of scenario (c): started with a socket path, it prints a ready
// line and serves until SIGTERM.
export const ENGINE_PROGRAM = `
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '@secrets-engine/runtime';

const serve = process.argv[2];
const dir = serve ? undefined : mkdtempSync(join(tmpdir(), 'se-rt-'));
const engine = createEngine({
  socketPath: serve ?? join(dir, 'engine.sock'),
  plugins: [
    {
      name: 'memory',
      version: 'v1.0.0',
      pattern: 'mem/**',
      getSecrets: (pattern) =>
        pattern === 'mem/db/password' || pattern === 'mem/db/*' || pattern === 'mem/**'
          ? [{ id: 'mem/db/password', value: 'hunter2' }]
          : [],
    },
  ],
});
await engine.start();
if (serve) {
  console.log('engine ready');
  process.once('SIGTERM', () => engine.close().then(() => process.exit(0)));
} else {
  try {
    for (const s of await engine.getSecrets('mem/db/*')) console.log('resolved ' + s.id + '=' + s.revealText() + ' by ' + s.provider);
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('closed');
}
`;

// Scenario (c): reads from the engine at the socket path it is given.
export const CLIENT_PROGRAM = `
import { createClient, NotFoundError } from '@secrets-engine/client';

const client = createClient({ socketPath: process.argv[2], timeoutMs: 5_000 });
try {
  const [secret] = await client.getSecrets('mem/db/*');
  console.log('resolved ' + secret?.id + '=' + secret?.revealText() + ' by ' + secret?.provider);
  try {
    await client.getSecrets('nothing/here');
    console.log('miss: no error');
  } catch (err) {
    console.log('miss: ' + (err instanceof NotFoundError ? 'NotFoundError' : String(err)));
  }
} finally {
  client.close();
}
`;
