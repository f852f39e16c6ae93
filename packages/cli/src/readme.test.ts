// The README is checked against the built binary. It has no ```ts block (the CLI has no API), so
// instead of running a TypeScript example this test runs every documented command line: each
// `secrets-engine …` line of a ```sh block is run with --help inserted after the command, which
// parses every flag of the line (an unknown flag exits 64) without doing anything. The commands and
// exit codes in the README must also be the ones `secrets-engine --help` lists.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_DIR, runCli, useCli } from './__tests__/cli.js';

useCli();

const README = readFileSync(join(PACKAGE_DIR, 'README.md'), 'utf8');
const blocks = [...README.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({
  lang: m[1],
  body: m[2] ?? '',
}));

/** Splits a shell line into words: single and double quotes, no expansion; stops at | & ; */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|([^\s'"|&;]+)|([|&;])/g;
  for (const m of line.matchAll(re)) {
    if (m[4] !== undefined) break;
    out.push(m[1] ?? m[2] ?? m[3] ?? '');
  }
  return out;
}

/** Every documented invocation: the words after `secrets-engine` (env assignments skipped). */
const invocations = blocks
  .filter((b) => b.lang === 'sh')
  .flatMap((b) => b.body.split('\n'))
  .map((line) => words(line.trim()))
  .map((w) => w.slice(w.findIndex((x) => !/^[A-Z_][A-Z0-9_]*=/.test(x))))
  .filter((w) => w[0] === 'secrets-engine' && w.length > 1)
  .map((w) => w.slice(1));

describe('README', () => {
  it('starts with a ```sh example and has no ```ts block', () => {
    expect(blocks[0]?.lang).toBe('sh');
    expect(blocks.some((b) => b.lang === 'ts')).toBe(false);
  });

  it('documents every command of --help, and only those', async () => {
    const help = await runCli(['--help']);
    const listed = [...help.stdout.matchAll(/^ {2}([a-z]+) {2,}\S/gm)]
      .map((m) => m[1])
      .filter((c) => c !== 'help');
    const documented = [...README.matchAll(/^### `secrets-engine ([a-z]+)`$/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(listed.sort());
    for (const command of listed) expect(invocations.some((i) => i[0] === command)).toBe(true);
  });

  it('has the exit code table of --help', async () => {
    const help = await runCli(['--help']);
    const section = help.stdout.slice(
      help.stdout.indexOf('Exit codes:'),
      help.stdout.indexOf('Environment:'),
    );
    const fromHelp = [...section.matchAll(/^ {2}(\d+) +(.+)$/gm)].map((m) => [m[1], m[2]]);
    const fromReadme = [...README.matchAll(/^\| (\d+) +\| (.+?) +\|$/gm)].map((m) => [
      m[1],
      m[2]?.replace(/`/g, ''),
    ]);
    expect(fromReadme.map(([code]) => code)).toEqual(fromHelp.map(([code]) => code));
    for (const [i, [, meaning]] of fromReadme.entries()) {
      expect(meaning?.replace('…', '...')).toBe(fromHelp[i]?.[1]);
    }
  });

  it('found the documented command lines', () => {
    expect(invocations.length).toBeGreaterThanOrEqual(15);
  });

  it.concurrent.each(invocations.map((i) => [i.join(' '), i] as const))(
    'secrets-engine %s: the command and every flag exist',
    async (_line, [command, ...rest]) => {
      const r = await runCli([command!, '--help', ...rest]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage:\n  secrets-engine ${command}`);
    },
  );
});
