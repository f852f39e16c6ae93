#!/usr/bin/env node
// The bin. Launched by an engine (fd 3 + the launch variable) it registers over the launch
// channel; started by hand it dials --socket, else $SECRETS_ENGINE_SOCKET, else the default socket.
import './no-debugger.js';
import { parseArgs } from 'node:util';
import { createPlugin, executableName } from '@secrets-engine/plugin-sdk';
import { loadConfig, PATTERN_ENV, PREFIX_ENV } from './config.js';
import { ConfigError } from './errors.js';
import { createStderrLogger } from './log.js';
import { createEnvProvider, DEFAULT_NAME, VERSION } from './provider.js';

const PROGRAM = 'secrets-engine-plugin-env';
const USAGE = `Usage: ${PROGRAM} [--prefix PREFIX] [--pattern PATTERN] [--keep-case] [--allow-empty] [--name NAME] [--socket PATH]

Serves the variables of its environment that start with a prefix as secrets:
SE_SECRET_DB__PASSWORD is env/db/password (__ separates components; lowercased).

  --prefix PREFIX     the variables served (default SE_SECRET_; $${PREFIX_ENV})
  --pattern PATTERN   the IDs served (default env/**; $${PATTERN_ENV}); keys go below its prefix
  --keep-case         do not lowercase the keys
  --allow-empty       serve variables set to "" (default: refused, as an undefined CI secret)
  --name NAME         the plugin name when started by hand (default: ${DEFAULT_NAME})
  --socket PATH       the engine socket when started by hand (default: $SECRETS_ENGINE_SOCKET)
  -h, --help          this help
      --version       the version

Launched by an engine (no arguments), it sees only the engine's allowlisted environment and its
pluginEnv, and reads <name>.json beside its executable, else $XDG_CONFIG_HOME/secrets-engine/<name>.json:
{"prefix": "...", "pattern": "...", "lowercase": true, "allowEmpty": false}.
Exit codes: 0 stopped, 1 failed while serving, 2 bad configuration, 64 usage.
`;

function parse() {
  return parseArgs({
    options: {
      prefix: { type: 'string' },
      pattern: { type: 'string' },
      'keep-case': { type: 'boolean' },
      'allow-empty': { type: 'boolean' },
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
  flags.name ?? (own === undefined || [PROGRAM, 'plugin-env', 'main'].includes(own) ? DEFAULT_NAME : own);
const logger = createStderrLogger();

let provider: ReturnType<typeof createEnvProvider>;
try {
  const config = loadConfig({ flags, env: process.env, executable });
  logger.info('configuration', {
    prefix: config.prefix,
    pattern: config.pattern,
    ...(config.configFile === undefined ? {} : { configFile: config.configFile }),
  });
  provider = createEnvProvider({
    prefix: config.prefix,
    pattern: config.pattern,
    lowercase: config.lowercase,
    allowEmpty: config.allowEmpty,
    // Its own settings are not secrets, whatever the prefix.
    ignore: [PREFIX_ENV, PATTERN_ENV],
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
}
