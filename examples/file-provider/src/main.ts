#!/usr/bin/env node
// The plugin executable. Launched by an engine (fd 3 + the launch variable) it registers over the
// launch channel; started by hand it dials $SECRETS_ENGINE_SOCKET (or the default socket).
import { createPlugin, executableName } from '@secrets-engine/plugin-sdk';
import { ConfigError, loadConfig } from './config.js';
import { createStderrLogger } from './log.js';
import { createFileProvider } from './provider.js';

const executable = process.argv[1];
const name = executable === undefined ? 'file-provider' : executableName(executable);
const logger = createStderrLogger();

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig({ env: process.env, executable });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`error: ${name}: ${err.message}\n`);
  process.exit(2);
}
logger.info('configuration', { source: config.source, file: config.file, pattern: config.pattern });

const provider = createFileProvider({ file: config.file, pattern: config.pattern, name, logger });
// Read the file once now so bad entries are reported at startup; a missing file is not fatal (it
// may appear later: every request checks it again).
await provider.file.entries().catch((err: unknown) => logger.warn((err as Error).message));

const plugin = createPlugin({
  name: provider.name,
  version: provider.version,
  pattern: provider.pattern,
  getSecrets: provider.getSecrets,
  logger,
});
try {
  const result = await plugin.serve();
  logger.info('stopped', { reason: result.reason });
} catch (err) {
  logger.error((err as Error).message);
  process.exitCode = 1;
}
