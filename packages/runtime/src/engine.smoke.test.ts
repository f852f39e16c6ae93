import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { expect, it } from 'vitest';
import { createEngine } from './index.js';

const fixture = fileURLToPath(new URL('./__tests__/fixtures/sdk-plugin.mjs', import.meta.url));

it('smoke: builtin + launched plugin, resolved over the engine socket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'se-rt-'));
  const pluginsDir = join(dir, 'plugins');
  const { mkdirSync, symlinkSync } = await import('node:fs');
  mkdirSync(pluginsDir);
  symlinkSync(fixture, join(pluginsDir, 'alpha'));
  const logs: string[] = [];
  const logger = {
    debug() {},
    info: (m: string, a?: object) => process.stderr.write(`info ${m} ${JSON.stringify(a ?? {})}\n`),
    warn: (m: string, a?: object) => process.stderr.write(`warn ${m} ${JSON.stringify(a ?? {})}\n`),
    error: (m: string, a?: object) => process.stderr.write(`error ${m} ${JSON.stringify(a ?? {})}\n`),
    child() {
      return logger;
    },
  };
  const engine = createEngine({
    socketPath: join(dir, 'engine.sock'),
    pluginsDir,
    pluginEnv: { FIXTURE_PATTERN: 'fixture/**' },
    plugins: [
      {
        name: 'builtin',
        version: 'v1.0.0',
        pattern: 'b/**',
        getSecrets: () => [{ id: 'b/x', value: new Uint8Array([1]) }],
      },
    ],
    logger,
  });
  try {
    await engine.start();
    process.stderr.write(`info LIST ${JSON.stringify(engine.listPlugins())}\n`);
    process.stderr.write(`info DIRECT ${JSON.stringify((await engine.getSecrets('**')).map(String))}\n`);
    const transport = createConnectTransport({
      httpVersion: '1.1',
      baseUrl: 'http://unix',
      nodeOptions: { socketPath: join(dir, 'engine.sock') },
    });
    const client = createClient(resolverv1.ResolverService, transport);
    const res = await client.getSecrets({ pattern: '**' });
    console.log(res.envelopes.map((e) => `${e.id} ${e.provider}`));
    const list = await createClient(pluginsv1.PluginManagementService, transport).listPlugins({});
    console.log(list.plugins.map((p) => `${p.name} ${p.runStatus}`));
    expect(res.envelopes.length).toBe(2);
  } finally {
    await engine.close();
    console.log(logs.join('\n'));
    rmSync(dir, { recursive: true, force: true });
  }
});
