// Shell completion (issue 16 item 6): the scripts the built binary prints, run in real bash, zsh
// and fish against a real engine — commands, flags, plugins subcommands, plugin names and secret
// IDs from the engine, nothing (and no error) without one; and they follow the help texts.
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, type ServedEngine, serve, tempDir, useCli } from './__tests__/cli.js';
import { completionSpec } from './completion.js';
import { COMMAND_HELP } from './help.js';

useCli();

let engine: ServedEngine;
let scripts: Record<'bash' | 'zsh' | 'fish', string>;
let bin: string;
beforeAll(async () => {
  engine = await serve();
  const dir = tempDir();
  // `secrets-engine` on PATH, as an installed CLI is: the scripts call it for names and IDs.
  bin = join(dir, 'bin');
  spawnSync('mkdir', [bin]);
  writeFileSync(join(bin, 'secrets-engine'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  chmodSync(join(bin, 'secrets-engine'), 0o755);
  scripts = { bash: '', zsh: '', fish: '' };
  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    const r = await runCli(['completion', shell]);
    expect(r.code).toBe(0);
    scripts[shell] = join(dir, `completion.${shell}`);
    writeFileSync(scripts[shell], r.stdout);
  }
});
afterAll(async () => {
  expect((await engine.stop()).code).toBe(0);
});

const has = (shell: string) => spawnSync(shell, ['-c', 'exit 0'], { stdio: 'ignore' }).status === 0;
const env = (socket: string) => ({
  ...process.env,
  PATH: `${bin}:${process.env.PATH}`,
  SECRETS_ENGINE_SOCKET: socket,
  HOME: tempDir(),
});

/** What bash (or zsh through bashcompinit) offers for `words`, the last one being completed. */
function complete(shell: 'bash' | 'zsh', words: string[], socket = engine.socket): string[] {
  const array = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const call =
    shell === 'bash'
      ? `source '${scripts.bash}'; COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _secrets_engine; printf '%s\\n' "\${COMPREPLY[@]}"`
      : `source '${scripts.zsh}'; emulate -L sh; setopt kshglob noshglob braceexpand; COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _secrets_engine; print -l -- "\${COMPREPLY[@]}"`;
  const r = spawnSync(shell, ['-c', call], { env: env(socket), encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter((l) => l !== '');
}

for (const shell of ['bash', 'zsh'] as const) {
  describe.skipIf(!has(shell))(`${shell} completion`, () => {
    it('completes commands, flags, flag values and plugins subcommands', () => {
      expect(complete(shell, ['secrets-engine', 'ge'])).toEqual(['get']);
      expect(complete(shell, ['secrets-engine', 'c'])).toEqual(['completion']);
      expect(complete(shell, ['secrets-engine', 'get', '--re'])).toEqual(['--reveal']);
      expect(complete(shell, ['secrets-engine', 'read', '--no-'])).toEqual(['--no-cache']);
      expect(complete(shell, ['secrets-engine', 'serve', '--log-level', 'w'])).toEqual(['warn']);
      expect(complete(shell, ['secrets-engine', 'plugins', 'e'])).toEqual(['enable']);
      expect(complete(shell, ['secrets-engine', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    });
    it('completes plugin names and secret IDs from the engine, the --socket on the line first', () => {
      const other = join(engine.dir, 'nothing-here.sock');
      expect(
        complete(shell, ['secrets-engine', 'plugins', 'enable', '--socket', engine.socket, 'fi'], other),
      ).toEqual(['fixture']);
      expect(complete(shell, ['secrets-engine', 'logs', 'fix'])).toEqual(['fixture']);
      expect(complete(shell, ['secrets-engine', 'read', 'se://fixture/a'])).toEqual(['se://fixture/api-key']);
      expect(complete(shell, ['secrets-engine', 'get', 'fixture/db/'])).toEqual(['fixture/db/password']);
    });
    it('offers nothing, and prints no error, when no engine answers', () => {
      const none = join(engine.dir, 'nothing-here.sock');
      expect(complete(shell, ['secrets-engine', 'plugins', 'enable', ''], none)).toEqual([]);
      expect(complete(shell, ['secrets-engine', 'get', 'fixture/'], none)).toEqual([]);
    });
  });
  if (!has(shell)) notRun(shell);
}

/** A shell that is not here: under CI a failure (.ci/run installs it), elsewhere a skip that says so. */
function notRun(shell: string): void {
  const title = `${shell} completion NOT RUN: ${shell} is not installed (.ci/run installs it)`;
  if (process.env.CI) {
    it(title, () => {
      throw new Error(`${shell} is not installed: the ${shell} completion tests did not run`);
    });
  } else it.skip(title, () => {});
}

describe.skipIf(!has('fish'))('fish completion', () => {
  const fish = (line: string, socket = engine.socket) => {
    const r = spawnSync('fish', ['-c', `source '${scripts.fish}'; complete -C '${line}'`], {
      env: env(socket),
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    return r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split('\t')[0]);
  };
  it('completes commands, flags, subcommands, plugin names and IDs', () => {
    expect(fish('secrets-engine ge')).toEqual(['get']);
    expect(fish('secrets-engine get --re')).toEqual(['--reveal']);
    expect(fish('secrets-engine plugins e')).toEqual(['enable']);
    expect(fish('secrets-engine plugins enable fi')).toEqual(['fixture']);
    expect(fish('secrets-engine read se://fixture/a')).toEqual(['se://fixture/api-key']);
  });
});
if (!has('fish')) notRun('fish');

describe('the completion data is the help texts', () => {
  it('has every command of --help and every flag of each command help', () => {
    const spec = completionSpec();
    expect(spec.map((c) => c.name).sort()).toEqual(Object.keys(COMMAND_HELP).sort());
    for (const command of spec) {
      for (const flag of command.flags) expect(COMMAND_HELP[command.name]).toContain(flag.long);
    }
    expect(spec.find((c) => c.name === 'get')?.flags.map((f) => f.long)).toEqual([
      '--socket',
      '--json',
      '--reveal',
      '--no-cache',
      '--help',
    ]);
    expect(spec.find((c) => c.name === 'plugins')?.subcommands).toEqual([
      'ls',
      'enable',
      'disable',
      'pin',
      'install',
      'uninstall',
    ]);
  });
  it('completion with an unknown shell is a usage error', async () => {
    const r = await runCli(['completion', 'tcsh']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/^secrets-engine: unknown shell "tcsh" \(use bash, zsh, fish\)/);
  });
});
