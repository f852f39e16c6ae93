// --help of every command, usage errors (exit 64), version without an engine, and the
// "one line, no stack trace" rule: the built binary, spawned as a user runs it.
import { describe, expect, it } from 'vitest';
import { expectNoStack, runCli, useCli } from './__tests__/cli.js';

useCli();

const COMMANDS = ['serve', 'get', 'read', 'inject', 'plugins', 'run', 'version'];

describe.concurrent('help', () => {
  it('--help lists every command and the exit codes', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const command of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    for (const code of [0, 1, 2, 3, 4, 64, 126, 127, 130])
      expect(r.stdout).toMatch(new RegExp(`^  ${code} `, 'm'));
    expect(r.stderr).toBe('');
  });

  it.each(COMMANDS)('%s --help and -h print usage and examples', async (command) => {
    for (const flag of ['--help', '-h']) {
      const r = await runCli([command, flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage:\n  secrets-engine ${command}`);
      expect(r.stdout).toMatch(/Examples:\n {2}(\S+=\S+ )?secrets-engine /);
      expect(r.stderr).toBe('');
    }
  });

  it('help COMMAND is the same text as COMMAND --help', async () => {
    const [a, b] = await Promise.all([runCli(['help', 'run']), runCli(['run', '--help'])]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
  });

  it('documents read and inject: flags, exit codes, the template syntax and its escape', async () => {
    const read = await runCli(['read', '--help']);
    expect(read.stdout).toMatch(/^ {6}--newline +add a newline/m);
    expect(read.stdout).toMatch(/^ {6}--force +write a binary/m);
    expect(read.stdout).toMatch(/^ {2}4 +invalid ID, or a pattern$/m);
    expect(read.stdout).toContain('export PGPASSWORD="$(secrets-engine read se://myapp/db/password)"');
    const inject = await runCli(['inject', '--help']);
    expect(inject.stdout).toMatch(/^ {2}-i, --in-file TEMPLATE +the template/m);
    expect(inject.stdout).toMatch(/^ {2}-o, --out-file FILE +the file to write, mode 0600/m);
    expect(inject.stdout).toContain('put a backslash before it: \\{{ se://ID }}');
    for (const code of [0, 1, 2, 3, 4, 5, 64]) expect(inject.stdout).toMatch(new RegExp(`^  ${code} `, 'm'));
  });

  it('documents the exit codes of get', async () => {
    const r = await runCli(['get', '--help']);
    expect(r.stdout).toMatch(/^ {2}2 +no secret matches/m);
    expect(r.stdout).toMatch(/^ {2}3 +engine not available/m);
    expect(r.stdout).toMatch(/^ {2}4 +invalid pattern/m);
  });
});

describe.concurrent('usage errors exit 64 with one line and a hint', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown command', ['frobnicate'], /^secrets-engine: unknown command "frobnicate"$/],
    [
      'unknown command, with a suggestion',
      ['serv'],
      /^secrets-engine: unknown command "serv" \(did you mean serve\?\)$/,
    ],
    ['a flag before the command', ['--socket', 'x', 'get'], /^secrets-engine: unknown flag --socket/],
    ['unknown flag of get', ['get', 'a/b', '--bogus'], /^secrets-engine: unknown flag --bogus$/],
    ['unknown flag of serve', ['serve', '--port', '1'], /^secrets-engine: unknown flag --port$/],
    ['unknown flag of plugins', ['plugins', '--all'], /^secrets-engine: unknown flag --all$/],
    ['unknown flag of run', ['run', '--bogus', '--', 'true'], /^secrets-engine: unknown flag --bogus$/],
    ['unknown flag of version', ['version', '--short'], /^secrets-engine: unknown flag --short$/],
    ['get without a pattern', ['get'], /^secrets-engine: missing PATTERN$/],
    ['read without a reference', ['read'], /^secrets-engine: missing REFERENCE$/],
    ['read with two references', ['read', 'a', 'b'], /^secrets-engine: unexpected argument "b"$/],
    ['unknown flag of read', ['read', 'se://a', '-n'], /^secrets-engine: unknown flag -n$/],
    ['inject with an argument', ['inject', 'tpl'], /^secrets-engine: unexpected argument "tpl"$/],
    ['inject -i without its value', ['inject', '-i'], /^secrets-engine: flag --in-file needs a value$/],
    ['unknown flag of inject', ['inject', '--force'], /^secrets-engine: unknown flag --force$/],
    ['get with two patterns', ['get', 'a', 'b'], /^secrets-engine: unexpected argument "b"$/],
    ['a flag without its value', ['get', 'a', '--socket'], /^secrets-engine: flag --socket needs a value$/],
    [
      'a boolean flag with a value',
      ['get', 'a', '--json=yes'],
      /^secrets-engine: flag --json does not take a value$/,
    ],
    [
      'plugins with an unknown subcommand',
      ['plugins', 'remove', 'x'],
      /^secrets-engine: unknown plugins subcommand "remove"/,
    ],
    ['plugins enable without a name', ['plugins', 'enable'], /^secrets-engine: missing NAME$/],
    ['run without a command', ['run'], /^secrets-engine: missing the command to run/],
    ['run with only --', ['run', '--'], /^secrets-engine: missing the command to run/],
    [
      'serve with a bad log level',
      ['serve', '--log-level', 'loud'],
      /^secrets-engine: --log-level must be one of debug, info, warn, error/,
    ],
    [
      'serve with a bad timeout',
      ['serve', '--request-timeout', '5s'],
      /^secrets-engine: --request-timeout must be a whole number of ms/,
    ],
    [
      'serve with a bad registration timeout',
      ['serve', '--registration-timeout', '0'],
      /^secrets-engine: --registration-timeout must be a whole number of ms above 0/,
    ],
    [
      'serve with a bad --plugin-env',
      ['serve', '--plugin-env', 'NOVALUE'],
      /^secrets-engine: --plugin-env expects NAME=VALUE/,
    ],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(64);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(message);
    expect(lines[1]).toMatch(/^Run 'secrets-engine (\w+ )*--help' for usage\.$/);
  });

  it('no command prints the help on stderr and exits 64', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(64);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Usage:\n  secrets-engine <command>');
  });
});

describe('version', () => {
  it('prints the CLI version and says when no engine is reachable (exit 0)', async () => {
    const r = await runCli(['version', '--socket', '/nonexistent/se-cli/engine.sock']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^secrets-engine CLI \d+\.\d+\.\d+\n/);
    expect(r.stdout).toContain(
      'engine not reachable: secrets engine is not available at /nonexistent/se-cli/engine.sock',
    );
    const alias = await runCli(['--version', '--socket', '/nonexistent/se-cli/engine.sock']);
    expect(alias.stdout).toBe(r.stdout);
  });
});

describe('errors', () => {
  it('never print a stack trace, unless SECRETS_ENGINE_DEBUG=1', async () => {
    const args = ['get', 'a/b', '--socket', '/nonexistent/se-cli/engine.sock'];
    const quiet = await runCli(args);
    expect(quiet.code).toBe(3);
    expect(quiet.stderr.trimEnd().split('\n')).toHaveLength(1);
    expectNoStack(quiet.stderr);
    const debug = await runCli(args, { env: { SECRETS_ENGINE_DEBUG: '1' } });
    expect(debug.code).toBe(3);
    expect(debug.stderr).toMatch(/^\s+at .+/m);
    expect(debug.stderr).toContain('caused by: ');
  });
});
