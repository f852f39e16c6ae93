#!/usr/bin/env node
// embedded-engine [--socket PATH] [--plugins-dir DIR] [--plugin-env K=V ...] [PATTERN ...]
// Starts an engine inside this process, reads PATTERN (default app/**) through the client, prints
// the IDs and providers it resolved (never values), and shuts down. Exit 0; 1 on an error; 130
// when interrupted (SIGINT/SIGTERM), after a clean shutdown all the same.
import { parseArgs } from 'node:util';
import { runApp } from './app.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    socket: { type: 'string' },
    'plugins-dir': { type: 'string' },
    'plugin-env': { type: 'string', multiple: true },
  },
});
const pluginEnv: Record<string, string> = {};
for (const pair of values['plugin-env'] ?? []) {
  const eq = pair.indexOf('=');
  if (eq <= 0) {
    process.stderr.write(`error: --plugin-env expects NAME=VALUE, got ${JSON.stringify(pair)}\n`);
    process.exit(64);
  }
  pluginEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
}

const controller = new AbortController();
const onSignal = () => controller.abort(new Error('interrupted'));
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
try {
  await runApp({
    socketPath: values.socket,
    pluginsDir: values['plugins-dir'],
    pluginEnv,
    patterns: positionals.length > 0 ? positionals : undefined,
    signal: controller.signal,
  });
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exitCode = controller.signal.aborted ? 130 : 1;
} finally {
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}
