// `secrets-engine read se://ID` against `secrets-engine serve` with the fixture plugin (both the
// built binary): exact bytes through pipes and files, exact IDs only, the exit codes, and on a real
// pseudo-terminal the refusal of values that would drive it (an OSC title sequence, binary bytes).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIN,
  expectNoStack,
  noPty,
  runCli,
  runCliBytes,
  type ServedEngine,
  serve,
  startCliOnPty,
  tempDir,
  useCli,
} from './__tests__/cli.js';

useCli();

let engine: ServedEngine;
beforeAll(async () => {
  engine = await serve({ pluginEnv: { FIXTURE_EXTRA: '1' } });
});
afterAll(async () => {
  const r = await engine.stop();
  expect(r.code).toBe(0);
  for (const value of ['api-key-value', 'pwned', 'line one']) expect(r.stderr).not.toContain(value);
});

const read = (...args: string[]) => runCliBytes(['read', ...args, '--socket', engine.socket]);
const NO_ENGINE = '/nonexistent/se-cli/engine.sock';

describe.concurrent('read: exact bytes', () => {
  it('prints exactly the value, no newline', async () => {
    const r = await read('se://fixture/api-key');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.toString('utf8')).toBe('api-key-value');
  });

  it('takes the bare ID too; --newline adds one newline', async () => {
    const r = await read('fixture/greeting', '--newline');
    expect(r.code).toBe(0);
    expect(r.stdout.toString('utf8')).toBe('hello world\n');
  });

  it('a binary value goes through a pipe byte for byte', async () => {
    const r = await read('se://fixture/binary');
    expect(r.code).toBe(0);
    expect([...r.stdout]).toEqual([0x00, 0xff, 0xfe, 0x41, 0x0a]);
  });

  it('lines, their final newline and any UTF-8 are kept as they are', async () => {
    const [lines, unicode, escapes] = await Promise.all([
      read('se://fixture/multiline'),
      read('se://fixture/unicode'),
      read('se://fixture/escape'),
    ]);
    expect(lines.stdout.toString('utf8')).toBe('line one\nline two\n');
    expect(unicode.stdout.toString('utf8')).toBe('naïve ✓ 🔑');
    // Not a terminal: the escape sequence is the value, written as it is.
    expect(escapes.stdout.toString('utf8')).toBe('\u001b]0;pwned\u0007\u001b[31mred');
  });

  it('as $(…) in a shell: the variable holds exactly the value', async () => {
    // Async, never spawnSync: a blocked worker would stop reading the engine's output.
    const sh = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
      const child = spawn(
        '/bin/sh',
        [
          '-c',
          'v="$("$0" "$1" read se://fixture/api-key --socket "$2")" && printf "[%s]" "$v"',
          process.execPath,
          BIN,
          engine.socket,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      child.once('close', (status) => resolve({ status, stdout }));
    });
    expect(sh.status).toBe(0);
    expect(sh.stdout).toBe('[api-key-value]');
  });
});

describe.concurrent('read: exact IDs and exit codes', () => {
  it('refuses a pattern with exit 4 before any I/O, and says how to list it', async () => {
    for (const ref of ['se://fixture/*', 'se://fixture/**', 'fixture/**']) {
      const r = await runCli(['read', ref, '--socket', NO_ENGINE]);
      expect(r.code).toBe(4);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(
        `secrets-engine: read takes one exact secret ID, and ${JSON.stringify(ref)} is a pattern; ` +
          `list what it matches with: secrets-engine get '${ref}'\n`,
      );
    }
  });

  it('refuses an invalid ID with exit 4, naming it', async () => {
    const r = await runCli(['read', 'se://fixture/a b', '--socket', NO_ENGINE]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(
      /^secrets-engine: invalid secret reference "se:\/\/fixture\/a b": invalid identifier: /,
    );
    const empty = await runCli(['read', 'se://', '--socket', NO_ENGINE]);
    expect(empty.code).toBe(4);
    expect(empty.stderr).toContain('the identifier is empty');
  });

  it('exits 2 when no secret has that ID, and never prints a near match', async () => {
    // fixture/db matches nothing exactly although fixture/db/password exists.
    for (const ref of ['se://fixture/nothing', 'se://fixture/db']) {
      const r = await read(ref);
      expect(r.code).toBe(2);
      expect(r.stdout.byteLength).toBe(0);
      expect(r.stderr).toBe(`secrets-engine: no secret has the ID ${JSON.stringify(ref.slice(5))}\n`);
    }
  });

  it('exits 3 when the engine is not available', async () => {
    const r = await runCli(['read', 'se://fixture/api-key', '--socket', `${engine.dir}/nobody.sock`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^secrets-engine: secrets engine is not available at .*nobody\.sock: /);
    expectNoStack(r.stderr);
  });

  it('usage: a missing reference, two of them, an unknown flag exit 64', async () => {
    for (const args of [['read'], ['read', 'a', 'b'], ['read', 'a', '--no-newline']]) {
      const r = await runCli(args);
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(/\nRun 'secrets-engine read --help' for usage\.\n$/);
    }
  });
});

describe('read: a failed plugin', () => {
  let odd: ServedEngine;
  beforeAll(async () => {
    odd = await serve({ plugins: ['fixture', 'broken'], pluginEnv: { FIXTURE_FAIL: 'broken' } });
  });
  afterAll(async () => {
    expect((await odd.stop()).code).toBe(0);
  });

  it('exits 5 naming the plugin when none had the ID: never "not found"', async () => {
    const r = await runCliBytes(['read', 'se://fixture/nothing', '--socket', odd.socket]);
    expect(r.code).toBe(5);
    expect(r.stdout.byteLength).toBe(0);
    expect(r.stderr).toContain('plugin "broken" failed');
    expect(r.stderr).not.toContain('no secret has the ID');
  });

  it('prints the value when a plugin had it, although another failed', async () => {
    const r = await runCliBytes(['read', 'se://fixture/api-key', '--socket', odd.socket]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString('utf8')).toBe('api-key-value');
  });
});

describe.skipIf(noPty !== undefined)('read on a terminal (a real pseudo-terminal)', () => {
  const onPty = async (args: string[], stdoutFile?: string) => {
    const proc = startCliOnPty(['read', ...args, '--socket', engine.socket], {
      ...(stdoutFile === undefined ? {} : { stdoutFile }),
    });
    return proc.exited;
  };

  it('prints a text value, lines and UTF-8 included', async () => {
    const r = await onPty(['se://fixture/api-key']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('api-key-value');
    const lines = await onPty(['se://fixture/multiline']);
    expect(lines.code).toBe(0);
    expect(lines.stdout).toBe('line one\r\nline two\r\n');
    const unicode = await onPty(['se://fixture/unicode', '--newline']);
    expect(unicode.stdout).toBe('naïve ✓ 🔑\r\n');
  });

  it('refuses a value with terminal escape sequences (exit 1): the terminal never gets them', async () => {
    const r = await onPty(['se://fixture/escape']);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('\u001b]0;');
    expect(r.stdout).not.toContain('pwned');
    expect(r.stdout).toContain(
      'secrets-engine: not writing the value of se://fixture/escape to the terminal: it contains control characters',
    );
    expect(r.stdout).toContain('redirect stdout (> FILE, | COMMAND) or pass --force');
  });

  it('refuses a binary value (exit 1) and never says which bytes it holds', async () => {
    const r = await onPty(['se://fixture/binary']);
    expect(r.code).toBe(1);
    // The one line of the refusal, and nothing of the value.
    expect(r.stdout).toBe(
      'secrets-engine: not writing the value of se://fixture/binary to the terminal: it is binary ' +
        '(not UTF-8 text); redirect stdout (> FILE, | COMMAND) or pass --force\r\n',
    );
  });

  it('--force writes them anyway', async () => {
    const r = await onPty(['se://fixture/escape', '--force']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('\u001b]0;pwned\u0007\u001b[31mred');
  });

  it('stdout to a file, stderr on the terminal: the value is written exactly, not refused', async () => {
    const file = join(tempDir(), 'value');
    const r = await onPty(['se://fixture/escape'], file);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(readFileSync(file, 'utf8')).toBe('\u001b]0;pwned\u0007\u001b[31mred');
  });
});

if (noPty !== undefined) {
  describe('read on a terminal', () => {
    it('cannot run here', (ctx) => {
      ctx.skip(noPty);
    });
  });
}
