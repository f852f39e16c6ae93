#!/usr/bin/env node
// The bin. Launched by an engine (fd 3 + the launch variable) it registers over the launch
// channel; started by hand it dials --socket, else $SECRETS_ENGINE_SOCKET, else the default socket.
import './no-debugger.js';
import { parseArgs } from 'node:util';
import { createPlugin, executableName } from '@secrets-engine/plugin-sdk';
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { killRunningHelpers } from './helper.js';
import { createStderrLogger } from './log.js';
import { createExecProvider, DEFAULT_NAME, VERSION } from './provider.js';

const PROGRAM = 'secrets-engine-plugin-exec';
const USAGE = `Usage: ${PROGRAM} [--helper HELPER] [--pattern PATTERN] [--timeout-ms MS] [--name NAME] [--socket PATH]

Serves the credentials of a Docker credential helper (docker-credential-pass, -secretservice,
-osxkeychain, -wincred, or any program speaking that protocol) as secrets: ghcr.io is
docker-credentials/ghcr.io. It only reads (list, get); the helper's output is never logged.

  --helper HELPER     a command on PATH or a path ($CREDENTIAL_HELPER; "helper" in the config file)
  --pattern PATTERN   the IDs served (default docker-credentials/**; $CREDENTIAL_HELPER_PATTERN)
  --timeout-ms MS     bound of each helper run (default 30000; $CREDENTIAL_HELPER_TIMEOUT_MS)
  --name NAME         the plugin name when started by hand (default: ${DEFAULT_NAME})
  --socket PATH       the engine socket when started by hand (default: $SECRETS_ENGINE_SOCKET)
  -h, --help          this help
      --version       the version

Launched by an engine (no arguments), it reads <name>.json beside its executable, else
$XDG_CONFIG_HOME/secrets-engine/<name>.json: {"helper": "...", "pattern": "...", "timeoutMs": N}.
Exit codes: 0 stopped, 1 failed while serving, 2 no or bad configuration, 64 usage.
`;

function parse() {
  return parseArgs({
    options: {
      helper: { type: 'string' },
      pattern: { type: 'string' },
      'timeout-ms': { type: 'string' },
      name: { type: 'string' },
      socket: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
    allowPositionals: false,
    strict: true,
  }).values;
}
let flags: ReturnType<typeof parse>;
try {
  flags = parse();
} catch (err) {
  process.stderr.write(`${PROGRAM}: ${(err as Error).message}\nRun '${PROGRAM} --help' for usage.\n`);
  process.exit(64);
}
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (flags.version) {
  process.stdout.write(`${PROGRAM} ${VERSION}\n`);
  process.exit(0);
}

const executable = process.argv[1];
const own = executable === undefined ? undefined : executableName(executable);
// Run through the package's own bin, the name says nothing: the default plugin name instead.
const name =
  flags.name ?? (own === undefined || [PROGRAM, 'plugin-exec', 'main'].includes(own) ? DEFAULT_NAME : own);
const logger = createStderrLogger();

let provider: ReturnType<typeof createExecProvider>;
try {
  const config = loadConfig({ flags, env: process.env, executable });
  logger.info('configuration', {
    source: config.source,
    helper: config.helper,
    pattern: config.pattern,
    timeoutMs: config.timeoutMs,
  });
  provider = createExecProvider({
    helper: config.helper,
    pattern: config.pattern,
    timeoutMs: config.timeoutMs,
    name,
    logger,
  });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`error: ${name}: ${err.message}\n`);
  process.exit(2);
}

const plugin = createPlugin({
  name: provider.name,
  version: provider.version,
  pattern: provider.pattern,
  getSecrets: provider.getSecrets,
  logger,
  ...(flags.socket === undefined ? {} : { socketPath: flags.socket }),
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
