#!/usr/bin/env node
// The plugin executable. Launched by an engine (fd 3 + the launch variable) it registers over the
// launch channel; started by hand it dials $SECRETS_ENGINE_SOCKET (or the default socket).
import { createPlugin, executableName } from '@secrets-engine/plugin-sdk';
import { ConfigError, loadConfig } from './config.js';
import { killRunningHelpers } from './helper.js';
import { createStderrLogger } from './log.js';
import { createExecProvider } from './provider.js';

const executable = process.argv[1];
const name = executable === undefined ? 'exec-provider' : executableName(executable);
const logger = createStderrLogger();

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig({ env: process.env, executable });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`error: ${name}: ${err.message}\n`);
  process.exit(2);
}
logger.info('configuration', {
  source: config.source,
  helper: config.helper,
  pattern: config.pattern,
  timeoutMs: config.timeoutMs,
});

const provider = createExecProvider({ ...config, name, logger });
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
} finally {
  // A helper still running (a keychain prompt nobody answers) must neither keep this process
  // alive after Shutdown nor outlive it: it runs in its own process group.
  killRunningHelpers();
}
