#!/usr/bin/env node
// The bin. Without a command it serves: launched by an engine (fd 3 + the launch variable) it
// registers over the launch channel; started by hand it dials --socket, else
// $SECRETS_ENGINE_SOCKET, else the default socket. `set`, `rm` and `list` write and read the
// keychain directly (the engine's API is read-only), as Docker's `pass` provider does.
import './no-debugger.js';
import { parseArgs } from 'node:util';
import { createPlugin, executableName } from '@secrets-engine/plugin-sdk';
import { loadConfig, PATTERN_ENV, SERVICE_ENV } from './config.js';
import { ConfigError, InvalidSecretIdError, KeychainUnavailableError } from './errors.js';
import { createStderrLogger } from './log.js';
import {
  createKeychainProvider,
  DEFAULT_NAME,
  DEFAULT_PATTERN,
  DEFAULT_SERVICE,
  VERSION,
} from './provider.js';
import { readValue, ValueInputError } from './value-input.js';

const PROGRAM = 'secrets-engine-plugin-keychain';
const LOG_LEVEL_ENV = 'SECRETS_KEYCHAIN_LOG_LEVEL';
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const USAGE = `Usage: ${PROGRAM} [--service NAME] [--pattern PATTERN] [--name NAME] [--socket PATH]
       ${PROGRAM} set ID        store a secret: the value from stdin, or a no-echo prompt (asked twice)
       ${PROGRAM} rm ID         remove a secret
       ${PROGRAM} list [PATTERN]  the IDs stored (never values), default **

Serves the OS keychain's items of one service (Secret Service on Linux, Keychain on macOS,
Credential Manager on Windows): the item's account is the secret ID.

  --service NAME      the keychain service (default ${DEFAULT_SERVICE}; $${SERVICE_ENV})
  --pattern PATTERN   the IDs served and accepted by set (default ${DEFAULT_PATTERN}; $${PATTERN_ENV})
  --name NAME         the plugin name when started by hand (default: ${DEFAULT_NAME})
  --socket PATH       the engine socket when started by hand (default: $SECRETS_ENGINE_SOCKET)
  --log-level LEVEL   debug, info, warn or error (default info, commands warn; $${LOG_LEVEL_ENV})
  -h, --help          this help
      --version       the version

Launched by an engine (no command), it reads <name>.json beside its executable, else
$XDG_CONFIG_HOME/secrets-engine/<name>.json: {"service": "...", "pattern": "..."}.
A value is never taken from the command line (ps and shell history would show it). From stdin one
trailing newline is dropped: printf %s "$TOKEN" | ${PROGRAM} set ci/token
Exit codes: 0 done, 1 the keychain failed or rm found nothing, 2 bad input or configuration, 64 usage.
`;

function parse() {
  return parseArgs({
    options: {
      service: { type: 'string' },
      pattern: { type: 'string' },
      name: { type: 'string' },
      socket: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
}

function usage(message: string): never {
  process.stderr.write(`${PROGRAM}: ${message}\nRun '${PROGRAM} --help' for usage.\n`);
  process.exit(64);
}

let parsed: ReturnType<typeof parse>;
try {
  parsed = parse();
} catch (err) {
  usage((err as Error).message);
}
const flags = parsed.values;
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (flags.version) {
  process.stdout.write(`${PROGRAM} ${VERSION}\n`);
  process.exit(0);
}

const [command, ...operands] = parsed.positionals;
if (command !== undefined && (flags.socket !== undefined || flags.name !== undefined)) {
  usage(`--socket and --name are for serving; ${command} talks to the keychain directly`);
}
const nonEmpty = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);
const executable = process.argv[1];
const own = executable === undefined ? undefined : executableName(executable);
// Run through the package's own bin, the name says nothing: the default plugin name instead.
const name =
  flags.name ??
  (own === undefined || [PROGRAM, 'plugin-keychain', 'main'].includes(own) ? DEFAULT_NAME : own);
const level =
  nonEmpty(flags['log-level']) ??
  nonEmpty(process.env[LOG_LEVEL_ENV]) ??
  (command === undefined ? 'info' : 'warn');
if (!(LEVELS as readonly string[]).includes(level)) {
  usage(`log level ${JSON.stringify(level)} is not one of ${LEVELS.join(', ')}`);
}
const logger = createStderrLogger({ level: level as (typeof LEVELS)[number] });

let provider: ReturnType<typeof createKeychainProvider>;
let configFile: string | undefined;
try {
  const config = loadConfig({ flags, env: process.env, executable });
  configFile = config.configFile;
  provider = createKeychainProvider({ service: config.service, pattern: config.pattern, name, logger });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`error: ${name}: ${err.message}\n`);
  process.exit(2);
}

/** A command's failure: its message, and the exit code of its kind. */
function fail(err: unknown): never {
  if (err instanceof KeychainUnavailableError) {
    process.stderr.write(`${PROGRAM}: ${err.message}\n`);
    process.exit(1);
  }
  if (err instanceof ConfigError || err instanceof InvalidSecretIdError || err instanceof ValueInputError) {
    process.stderr.write(`${PROGRAM}: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

if (command === undefined) {
  logger.info('serving the keychain', {
    service: provider.service,
    pattern: provider.pattern,
    ...(configFile === undefined ? {} : { configFile }),
  });
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
} else if (command === 'set') {
  if (operands.length === 0) usage('set needs the ID: set ID (the value is read from stdin or a prompt)');
  if (operands.length > 1) {
    usage(
      `set takes one argument, the ID; got ${operands.length}. The value is never taken from the command line (ps and shell history would show it): pipe it on stdin, or type it at the prompt`,
    );
  }
  const id = operands[0] as string;
  try {
    const value = await readValue({ prompt: `Value for ${id}: `, confirm: `Again, to confirm: ` });
    await provider.set(id, value);
  } catch (err) {
    fail(err);
  }
  process.stderr.write(`stored ${id} in the keychain (service ${provider.service})\n`);
} else if (command === 'rm') {
  if (operands.length !== 1) usage(`rm takes one argument, the ID; got ${operands.length}`);
  const id = operands[0] as string;
  let removed = false;
  try {
    removed = await provider.remove(id);
  } catch (err) {
    fail(err);
  }
  if (!removed) {
    process.stderr.write(`${PROGRAM}: ${id}: no such secret in the keychain (service ${provider.service})\n`);
    process.exit(1);
  }
  process.stderr.write(`removed ${id}\n`);
} else if (command === 'list') {
  if (operands.length > 1) usage(`list takes at most one argument, a pattern; got ${operands.length}`);
  let ids: string[] = [];
  try {
    ids = await provider.ids(operands[0] ?? '**');
  } catch (err) {
    fail(err);
  }
  process.stdout.write(ids.map((id) => `${id}\n`).join(''));
} else {
  usage(`unknown command ${JSON.stringify(command)}: the commands are set, rm and list (none: serve)`);
}
