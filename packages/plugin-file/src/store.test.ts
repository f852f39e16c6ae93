// Live reload through the provider: events and the poll pick changes up; a broken edit keeps the
// last good view and says so; a source that becomes insecure or disappears serves nothing; a
// writer in another process never makes the provider serve half a file.
import { spawn } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { Code, ConnectError, parsePattern } from '@secrets-engine/plugin-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { recorder, replace, tempDir, until, write } from './__tests__/helpers.js';
import { createFileProvider, type FileProvider, type FileProviderOptions } from './provider.js';

const providers: FileProvider[] = [];
afterEach(() => {
  for (const p of providers.splice(0)) p.close();
});

function provider(options: FileProviderOptions): FileProvider {
  const p = createFileProvider(options);
  providers.push(p);
  return p;
}

const text = (v: Uint8Array | string) => (typeof v === 'string' ? v : new TextDecoder().decode(v));

async function read(p: FileProvider, pattern: string): Promise<Record<string, string>> {
  const entries = await p.getSecrets(parsePattern(pattern));
  return Object.fromEntries(entries.map((e) => [e.id, text(e.value)]));
}

async function failure(p: FileProvider, pattern: string): Promise<ConnectError | Error | undefined> {
  try {
    await p.getSecrets(parsePattern(pattern));
    return undefined;
  } catch (err) {
    return err as Error;
  }
}

describe('changes without a restart', () => {
  it('an edit in place and a write-and-rename are both picked up (events only, no poll)', async () => {
    using tmp = tempDir();
    const file = write(tmp.path('app.env'), 'TOKEN=one\n');
    const p = provider({ file, pattern: 'app/**', pollMs: 0 });
    expect(await read(p, 'app/**')).toEqual({ 'app/TOKEN': 'one' });
    writeFileSync(file, 'TOKEN=two\nADDED=yes\n');
    await until('the edit in place', async () => (await read(p, 'app/**'))['app/TOKEN'] === 'two');
    expect(await read(p, 'app/**')).toEqual({ 'app/TOKEN': 'two', 'app/ADDED': 'yes' });
    replace(file, 'TOKEN=three\n');
    await until('the renamed file', async () => (await read(p, 'app/**'))['app/TOKEN'] === 'three');
    expect(await read(p, 'app/**')).toEqual({ 'app/TOKEN': 'three' });
  });

  it('a file behind a symbolic link into another folder: the change of its target is served', async () => {
    using tmp = tempDir();
    const target = write(tmp.path('real', 's.json'), '{"a": "1"}');
    const link = tmp.path('link.json');
    const { symlinkSync } = await import('node:fs');
    symlinkSync(target, link);
    const p = provider({ file: link, pollMs: 50 });
    expect(await read(p, 'file/a')).toEqual({ 'file/a': '1' });
    replace(target, '{"a": "2"}');
    await until('the new target content', async () => (await read(p, 'file/a'))['file/a'] === '2');
  });

  it('a folder: files added, changed and removed', async () => {
    using tmp = tempDir();
    const folder = tmp.path('s');
    write(tmp.path('s', 'a'), '1');
    const p = provider({ file: folder });
    expect(await read(p, 'file/**')).toEqual({ 'file/a': '1' });
    write(tmp.path('s', 'team', 'b'), '2');
    await until('the new file in a new sub-folder', async () => 'file/team/b' in (await read(p, 'file/**')));
    replace(tmp.path('s', 'a'), '1b');
    await until('the replaced file', async () => (await read(p, 'file/**'))['file/a'] === '1b');
    rmSync(tmp.path('s', 'a'));
    await until('the removed file', async () => !('file/a' in (await read(p, 'file/**'))));
    expect(await read(p, 'file/**')).toEqual({ 'file/team/b': '2' });
  });
});

describe('broken, insecure, missing', () => {
  it('a broken edit keeps the last good view and logs why, without the content; fixed, it is served', async () => {
    using tmp = tempDir();
    const file = write(tmp.path('s.json'), '{"a": "GOOD-1"}');
    const { logger, lines } = recorder();
    const p = provider({ file, logger });
    expect(await read(p, 'file/a')).toEqual({ 'file/a': 'GOOD-1' });
    replace(file, '{"a": "BROKEN-VALUE"');
    await until('the error line', () => lines.some((l) => l.startsWith('error ')));
    expect(await read(p, 'file/a')).toEqual({ 'file/a': 'GOOD-1' });
    expect(lines.filter((l) => l.startsWith('error '))).toEqual([
      expect.stringMatching(
        /^error secrets file .*s\.json: not valid JSON \(line 1, column 21\); still serving the version loaded at \d{4}-/,
      ),
    ]);
    replace(file, '{"a": "GOOD-2"}');
    await until('the fixed file', async () => (await read(p, 'file/a'))['file/a'] === 'GOOD-2');
    expect(lines.join('\n')).not.toMatch(/GOOD|BROKEN/);
  });

  it('broken from the start: failed_precondition with the reason, never not_found', async () => {
    using tmp = tempDir();
    const file = write(tmp.path('s.json'), '["VALUE"]');
    const p = provider({ file });
    const err = await failure(p, 'file/a');
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((err as ConnectError).rawMessage).toBe(
      `secrets file ${file}: expected a JSON object of {"key": "value"} or {"key": {"value": "..."}}`,
    );
  });

  it.runIf(process.platform !== 'win32')(
    'a file made readable to others stops being served at once, and is served again after chmod 600',
    async () => {
      using tmp = tempDir();
      const file = write(tmp.path('s.env'), 'A=VALUE\n');
      const { logger, lines } = recorder();
      const p = provider({ file, logger });
      expect(await read(p, 'file/A')).toEqual({ 'file/A': 'VALUE' });
      chmodSync(file, 0o644);
      await until('the refusal', async () => (await failure(p, 'file/A')) !== undefined);
      const err = (await failure(p, 'file/A')) as ConnectError;
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(err.rawMessage).toBe(
        `refusing secrets file ${file}: mode 0644 lets other users read it; allowed: no permission for group and others (fix: chmod 600 ${file})`,
      );
      expect(lines.filter((l) => l.startsWith('error refusing'))).toHaveLength(1);
      chmodSync(file, 0o600);
      await until('served again', async () => (await failure(p, 'file/A')) === undefined);
      expect(lines.join('\n')).not.toContain('VALUE"');
    },
  );

  it('a file that disappears serves nothing (failed_precondition), and is served when it is back', async () => {
    using tmp = tempDir();
    const file = tmp.path('later.env');
    const p = provider({ file });
    const err = (await failure(p, 'file/**')) as ConnectError;
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toBe(`cannot read secrets file ${file}: it does not exist`);
    write(file, 'A=1\n');
    await until('the new file', async () => (await failure(p, 'file/**')) === undefined);
    rmSync(file);
    await until('the removal', async () => (await failure(p, 'file/**')) !== undefined);
    expect(((await failure(p, 'file/**')) as ConnectError).code).toBe(Code.FailedPrecondition);
  });

  it('a refused entry asked for by ID is its reason; a glob serves the others; not found is not found', async () => {
    using tmp = tempDir();
    const file = write(tmp.path('s.json'), JSON.stringify({ ok: '1', bad: { value: 2 } }));
    const p = provider({ file });
    const err = (await failure(p, 'file/bad')) as ConnectError;
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toBe(`${file}: cannot serve file/bad: "value" must be a string`);
    expect(await read(p, 'file/*')).toEqual({ 'file/ok': '1' });
    expect(((await failure(p, 'file/nope')) as Error).name).toBe('NotFoundError');
  });
});

describe('never half a file', () => {
  // A writer process rewrites the file as fast as it can, in place (truncate, then two writes) or by
  // write-and-rename; every answer must be one complete version: all KEYS keys, one version number,
  // every value ending in ".end". The writer pauses between its two writes for less than settleMs.
  const KEYS = 40;
  const writer = `
const fs = require('node:fs');
const [file, mode, rounds] = process.argv.slice(1);
const body = (n) => Array.from({ length: ${KEYS} }, (_, i) => 'K' + i + '=' + n + '.end\\n').join('');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  for (let n = 1; n <= Number(rounds); n++) {
    const text = body(n);
    if (mode === 'rename') {
      fs.writeFileSync(file + '.tmp', text, { mode: 0o600 });
      fs.renameSync(file + '.tmp', file);
    } else {
      const fd = fs.openSync(file, 'w');
      fs.writeSync(fd, text.slice(0, text.length >> 1));
      await sleep(2);
      fs.writeSync(fd, text.slice(text.length >> 1));
      fs.closeSync(fd);
    }
    await sleep(n % 7 === 0 ? 300 : 5);
  }
})();
`;

  for (const mode of ['in-place', 'rename'] as const) {
    it(`${mode}: every answer is one whole version`, async () => {
      using tmp = tempDir();
      const file = write(tmp.path('s.env'), Array.from({ length: KEYS }, (_, i) => `K${i}=0.end\n`).join(''));
      const p = provider({ file, settleMs: 100, pollMs: 20 });
      expect(Object.keys(await read(p, 'file/**'))).toHaveLength(KEYS);
      const child = spawn(process.execPath, ['-e', writer, file, mode, '60'], { stdio: 'ignore' });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      let done = false;
      void exited.then(() => {
        done = true;
      });
      const seen = new Set<string>();
      const bad: string[] = [];
      while (!done) {
        const answer = await read(p, 'file/**');
        const versions = new Set(Object.values(answer));
        const [only] = versions;
        if (Object.keys(answer).length !== KEYS || versions.size !== 1 || !only?.endsWith('.end')) {
          bad.push(`${Object.keys(answer).length} keys, values ${[...versions].slice(0, 3).join(' ')}`);
        } else {
          seen.add(only);
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      expect(await exited).toBe(0);
      expect(bad).toEqual([]);
      // The reader saw the file change (the property is about a file that does).
      await until('the last version', async () => (await read(p, 'file/K0'))['file/K0'] === '60.end');
      expect(seen.size).toBeGreaterThan(1);
    });
  }
});
