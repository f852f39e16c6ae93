#!/usr/bin/env node
// The bin. Launched by an engine (fd 3 + the launch variable) it registers over the launch
// channel; started by hand it dials --socket, else $SECRETS_ENGINE_SOCKET, else the default socket.
import './no-debugger.js';
import { parseArgs } from 'node:util';
import { createPlugin, executableName } from '@secrets-engine/plugin-sdk';
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { createStderrLogger } from './log.js';
import { createFileProvider, DEFAULT_NAME, VERSION } from './provider.js';

const PROGRAM = 'secrets-engine-plugin-file';
const USAGE = `Usage: ${PROGRAM} [--file PATH] [--pattern PATTERN] [--format auto|json|env|dir] [--name NAME] [--socket PATH]

Serves secrets from a JSON file, a .env file or a folder with one file per secret, as a
secrets-engine plugin. The file or folder must not be readable or writable by group or others
(chmod 600 FILE, chmod 700 FOLDER); changes are picked up without a restart.

  -f, --file PATH        the secrets file or folder ($SECRETS_FILE; or "file" in the config file)
  -p, --pattern PATTERN  the IDs served (default file/**; $SECRETS_FILE_PATTERN)
      --format FORMAT    auto (default), json, env or dir ($SECRETS_FILE_FORMAT)
      --name NAME        the plugin name when started by hand (default: ${DEFAULT_NAME})
      --socket PATH      the engine socket when started by hand (default: $SECRETS_ENGINE_SOCKET)
  -h, --help             this help
      --version          the version

Launched by an engine (no arguments), it reads <name>.json beside its executable, else
$XDG_CONFIG_HOME/secrets-engine/<name>.json: {"file": "...", "pattern": "...", "format": "..."}.
Exit codes: 0 stopped, 1 failed while serving, 2 no or bad configuration, 64 usage.
`;

let flags: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      file: { type: 'string', short: 'f' },
      pattern: { type: 'string', short: 'p' },
      format: { type: 'string' },
      name: { type: 'string' },
      socket: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
    allowPositionals: false,
    strict: true,
  }).values;
}
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
  flags.name ?? (own === undefined || [PROGRAM, 'plugin-file', 'main'].includes(own) ? DEFAULT_NAME : own);
const logger = createStderrLogger();

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig({ flags, env: process.env, executable });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`error: ${name}: ${err.message}\n`);
  process.exit(2);
}
logger.info('configuration', {
  source: config.source,
  file: config.file,
  format: config.format,
  pattern: config.pattern,
});

const provider = createFileProvider({ ...config, name, logger });
// The first read starts now, so problems are reported at startup; a missing file is not fatal
// (requests fail until it is there: the folder is watched).
void provider.start();
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
  provider.close();
}
