// `secrets-engine inject` against `secrets-engine serve` with the fixture plugin (both the built
// binary): the template language, the output file (0600 under any umask, atomic, never through a
// symbolic link, also while another process keeps planting one), all or nothing, exit codes.
import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoStack,
  runCliBytes,
  type ServedEngine,
  serve,
  tempDir,
  useCli,
  waitFor,
} from './__tests__/cli.js';

useCli();

const VALUES = ['s3cr3t-db-pw', 'api-key-value', 'hello world', 'line one', 'pwned'];

let engine: ServedEngine;
beforeAll(async () => {
  engine = await serve({ pluginEnv: { FIXTURE_EXTRA: '1' } });
});
afterAll(async () => {
  const r = await engine.stop();
  expect(r.code).toBe(0);
  for (const value of VALUES) expect(r.stderr).not.toContain(value);
});

const inject = (args: string[], input?: Uint8Array | string, umask?: string) =>
  runCliBytes(['inject', ...args, '--socket', engine.socket], {
    ...(input === undefined ? {} : { input }),
    ...(umask === undefined ? {} : { umask }),
  });
const NO_ENGINE = '/nonexistent/se-cli/engine.sock';

/** The folder's entries other than `keep`: a leftover temporary file shows up here. */
const others = (dir: string, keep: string[]) => readdirSync(dir).filter((f) => !keep.includes(f));

describe.concurrent('inject: the template', () => {
  it('replaces each reference, blanks optional, and copies everything else byte for byte', async () => {
    const template = [
      'db: {{ se://fixture/db/password }}',
      'key: {{se://fixture/api-key}}',
      'tabs: {{\tse://fixture/greeting\t}}',
      'twice: {{ se://fixture/api-key }}{{ se://fixture/api-key }}',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: GitHub Actions' own syntax, left alone
      'others: {{ .Values.x }} ${{ github.token }} {{{ se://fixture/api-key }}} {{ SE://x }}',
      'not a reference: se://fixture/api-key {{ se:/x }}',
      'a backslash elsewhere: \\n \\{{ x }}',
      '',
    ].join('\n');
    const r = await inject([], template);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.toString('utf8')).toBe(
      [
        'db: s3cr3t-db-pw',
        'key: api-key-value',
        'tabs: hello world',
        'twice: api-key-valueapi-key-value',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: GitHub Actions' own syntax, left alone
        'others: {{ .Values.x }} ${{ github.token }} {api-key-value} {{ SE://x }}',
        'not a reference: se://fixture/api-key {{ se:/x }}',
        'a backslash elsewhere: \\n \\{{ x }}',
        '',
      ].join('\n'),
    );
  });

  it('a backslash before a reference makes it literal; two give one backslash and the value', async () => {
    const r = await inject(
      [],
      'a \\{{ se://fixture/api-key }} b \\\\{{ se://fixture/api-key }} c \\\\\\{{se://x}}',
    );
    expect(r.code).toBe(0);
    expect(r.stdout.toString('utf8')).toBe('a {{ se://fixture/api-key }} b \\api-key-value c \\{{se://x}}');
  });

  it('keeps a template that is not UTF-8, and inserts a binary value exactly', async () => {
    const template = Buffer.concat([
      Buffer.from([0xff, 0xfe, 0x00]),
      Buffer.from('[{{ se://fixture/binary }}]'),
      Buffer.from([0xc3]),
    ]);
    const r = await inject([], template);
    expect(r.code).toBe(0);
    expect([...r.stdout]).toEqual([0xff, 0xfe, 0x00, 0x5b, 0x00, 0xff, 0xfe, 0x41, 0x0a, 0x5d, 0xc3]);
  });

  it('a template without references is copied as it is, with no engine needed', async () => {
    const r = await runCliBytes(['inject', '--socket', NO_ENGINE], { input: 'plain {{ text }}\n' });
    expect(r.code).toBe(0);
    expect(r.stdout.toString('utf8')).toBe('plain {{ text }}\n');
  });

  it('every invalid reference is listed with its line and column, exit 4, before any I/O', async () => {
    const template = [
      'ok: {{ se://fixture/api-key }}',
      'pattern: {{ se://fixture/* }}',
      '  naïve: {{ se://fixture/a?b }}',
      'open: {{ se://fixture/api-key',
      'empty: {{ se:// }}',
    ].join('\n');
    const r = await runCliBytes(['inject', '--socket', NO_ENGINE], { input: template });
    expect(r.code).toBe(4);
    expect(r.stdout.byteLength).toBe(0);
    const line = r.stderr.trimEnd();
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toMatch(/^secrets-engine: not writing stdout: 4 invalid secret references in stdin: /);
    expect(line).toContain(
      'stdin:2:10 "{{ se://fixture/* }}" (a pattern is not allowed: a reference names one exact secret ID)',
    );
    // Columns count characters, not bytes (ï is two bytes).
    expect(line).toContain('stdin:3:10 "{{ se://fixture/a?b }}" (invalid identifier: ');
    expect(line).toContain(
      `stdin:4:7 "{{ se://fixture/api-key" (no closing '}}' after the ID on the same line)`,
    );
    expect(line).toContain('stdin:5:8 "{{ se:// }}" (the ID is empty)');
    expect(line).not.toContain('stdin:1:');
  });
});

describe.concurrent('inject: all or nothing', () => {
  it('one unresolved reference: nothing written, every failure listed, never a value, exit 2', async () => {
    const dir = tempDir();
    const out = join(dir, 'config.yml');
    writeFileSync(out, 'previous\n', { mode: 0o644 });
    const before = statSync(out);
    const tpl = join(dir, 'config.yml.tpl');
    writeFileSync(
      tpl,
      'a: {{ se://fixture/api-key }}\nb: {{ se://fixture/nope }}\nc: {{ se://fixture/db }}\n',
    );
    const r = await inject(['-i', tpl, '-o', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `secrets-engine: not writing ${out}: 2 of 3 secret references unresolved: ` +
        `${tpl}:2:4 se://fixture/nope (not found), ${tpl}:3:4 se://fixture/db (not found)\n`,
    );
    for (const value of VALUES) expect(r.stderr).not.toContain(value);
    expect(readFileSync(out, 'utf8')).toBe('previous\n');
    expect(statSync(out).ino).toBe(before.ino);
    expect(statSync(out).mode & 0o777).toBe(0o644);
    expect(others(dir, ['config.yml', 'config.yml.tpl'])).toEqual([]);
  });

  it('to stdout: nothing at all is printed when a reference fails', async () => {
    const r = await inject([], 'a: {{ se://fixture/api-key }}\nb: {{ se://fixture/nope }}\n');
    expect(r.code).toBe(2);
    expect(r.stdout.byteLength).toBe(0);
  });

  it('the engine not available: exit 3, nothing written', async () => {
    const dir = tempDir();
    const out = join(dir, 'out');
    const r = await runCliBytes(['inject', '-o', out, '--socket', join(dir, 'nobody.sock')], {
      input: '{{ se://fixture/api-key }} {{ se://fixture/greeting }}',
    });
    expect(r.code).toBe(3);
    // Why the engine is not available is said once, after the list.
    expect(r.stderr).toBe(
      `secrets-engine: not writing ${out}: 2 of 2 secret references unresolved: ` +
        'stdin:1:1 se://fixture/api-key (engine not available), ' +
        'stdin:1:28 se://fixture/greeting (engine not available) ' +
        `[secrets engine is not available at ${join(dir, 'nobody.sock')}: no such socket (is the engine running?)]\n`,
    );
    expectNoStack(r.stderr);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('inject: a failed plugin', () => {
  let odd: ServedEngine;
  beforeAll(async () => {
    odd = await serve({ plugins: ['fixture', 'broken'], pluginEnv: { FIXTURE_FAIL: 'broken' } });
  });
  afterAll(async () => {
    expect((await odd.stop()).code).toBe(0);
  });

  it('exit 5 naming the provider when none had the ID: never "not found"', async () => {
    const r = await runCliBytes(['inject', '--socket', odd.socket], {
      input: '{{ se://fixture/api-key }} {{ se://fixture/nope }}',
    });
    expect(r.code).toBe(5);
    expect(r.stdout.byteLength).toBe(0);
    expect(r.stderr).toContain(
      '1 of 2 secret references unresolved: stdin:1:28 se://fixture/nope (provider "broken" failed',
    );
    expect(r.stderr).not.toContain('not found');
  });
});

describe.concurrent('inject: the output file', () => {
  it('is created 0600 even under umask 000, with exactly the rendered bytes', async () => {
    const dir = tempDir();
    const out = join(dir, 'secret.env');
    const r = await inject(['-o', out], 'KEY={{ se://fixture/api-key }}\n', '000');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.byteLength).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out, 'utf8')).toBe('KEY=api-key-value\n');
    expect(others(dir, ['secret.env'])).toEqual([]);
  });

  it('replaces an existing file atomically (a new inode, 0600), and -i/-o - mean stdin/stdout', async () => {
    const dir = tempDir();
    const out = join(dir, 'app.conf');
    writeFileSync(out, 'old contents that are longer than the new ones\n', { mode: 0o644 });
    const before = statSync(out);
    const r = await inject(['--in-file', '-', '--out-file', out], 'k={{ se://fixture/greeting }}');
    expect(r.code).toBe(0);
    const after = statSync(out);
    expect(after.ino).not.toBe(before.ino);
    expect(after.mode & 0o777).toBe(0o600);
    expect(readFileSync(out, 'utf8')).toBe('k=hello world');
    const dash = await inject(['-i', '-', '-o', '-'], '{{ se://fixture/greeting }}');
    expect(dash.stdout.toString('utf8')).toBe('hello world');
  });

  it('in place: -i and -o the same file', async () => {
    const dir = tempDir();
    const file = join(dir, 'f');
    writeFileSync(file, '{{ se://fixture/api-key }}');
    const r = await inject(['-i', file, '-o', file]);
    expect(r.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('api-key-value');
  });

  it('a symbolic link at the output path is refused, before any secret is fetched; its target is untouched', async () => {
    const dir = tempDir();
    const victim = join(dir, 'bashrc');
    writeFileSync(victim, 'original\n');
    const link = join(dir, 'out.yml');
    symlinkSync(victim, link);
    // No engine: the refusal comes first.
    const r = await runCliBytes(['inject', '-o', link, '--socket', NO_ENGINE], {
      input: '{{ se://fixture/api-key }}',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `secrets-engine: not writing ${link}: ${link} is a symbolic link; refusing to replace it ` +
        '(write to the path it points to instead)\n',
    );
    expect(readFileSync(victim, 'utf8')).toBe('original\n');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(victim);
  });

  it('a missing folder, a folder as output, a missing or oversized template: exit 1', async () => {
    const dir = tempDir();
    const cases: [string[], string][] = [
      [['-o', join(dir, 'no', 'out')], `the folder ${join(dir, 'no')} does not exist`],
      [['-o', dir], `${dir} is not a regular file`],
      [['-i', join(dir, 'missing.tpl')], `template ${join(dir, 'missing.tpl')} does not exist`],
    ];
    for (const [args, message] of cases) {
      const r = await runCliBytes(['inject', ...args, '--socket', NO_ENGINE]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(message);
    }
    const big = join(dir, 'big.tpl');
    writeFileSync(big, Buffer.alloc(16 * 1024 * 1024 + 1, 0x61));
    const r = await runCliBytes(['inject', '-i', big, '--socket', NO_ENGINE]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `secrets-engine: the template ${big} is larger than 16 MiB, the most inject reads\n`,
    );
  });
});

describe('inject: a symbolic link planted while it runs', () => {
  it('never writes through it: the link target stays as it was, whichever way each race goes', async () => {
    const dir = tempDir();
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'untouched\n');
    const out = join(dir, 'out');
    // Another process (the attacker) plants the link at the output path, removes it, again and again.
    const racer = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
         for (;;) { try { fs.symlinkSync(process.argv[1], process.argv[2]); } catch {}
                    try { fs.rmSync(process.argv[2], { force: true }); } catch {} }`,
        victim,
        out,
      ],
      { stdio: 'ignore' },
    );
    try {
      await waitFor('the racer to plant its link', () => {
        try {
          return lstatSync(out).isSymbolicLink();
        } catch {
          return false;
        }
      });
      const codes: number[] = [];
      for (let i = 0; i < 8; i++) {
        const r = await inject(['-o', out], `round ${i}: {{ se://fixture/api-key }}\n`);
        codes.push(r.code ?? -1);
        if (r.code !== 0)
          expect(r.stderr).toMatch(/is a symbolic link; refusing|cannot replace|does not exist/);
        expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
      }
      expect(codes.every((c) => c === 0 || c === 1)).toBe(true);
    } finally {
      racer.kill('SIGKILL');
    }
    // No temporary file left behind, whatever happened.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
