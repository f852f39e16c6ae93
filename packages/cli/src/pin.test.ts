// `secrets-engine plugins pin`: the pin file it writes and what it prints, and `serve` on a pinned
// folder: the pinned fixture runs, a swapped plugin is listed as not launched with why, and runs
// once pinned again and enabled. Usage errors and failures.
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectNoStack, FIXTURE, runCli, serve, tempDir, useCli, waitFor } from './__tests__/cli.js';

useCli();

const FIXTURE_SHA256 = `sha256:${createHash('sha256').update(readFileSync(FIXTURE)).digest('hex')}`;

/** A `plugins` folder with the fixture linked as each of `names`. */
function pluginsFolder(names: string[] = ['fixture']): { dir: string; pinFile: string } {
  const dir = join(tempDir(), 'plugins');
  mkdirSync(dir);
  for (const name of names) symlinkSync(FIXTURE, join(dir, name));
  return { dir, pinFile: `${dir}.pins.json` };
}

/** An executable shell script somewhere else; its path. */
function otherExecutable(text = '#!/bin/sh\nexit 0\n'): string {
  const path = join(tempDir(), 'other');
  writeFileSync(path, text);
  chmodSync(path, 0o755);
  return path;
}

describe('plugins pin', () => {
  it('hashes every plugin executable, writes DIR.pins.json, prints what it pinned', async () => {
    const { dir, pinFile } = pluginsFolder(['alpha', 'fixture']);
    const r = await runCli(['plugins', 'pin', '--plugins-dir', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        `pinned 2 plugins in ${pinFile}`,
        `NAME      ${'SHA-256'.padEnd(FIXTURE_SHA256.length + 3)}CHANGE   FILE`,
        `alpha     ${FIXTURE_SHA256}   new      ${join(dir, 'alpha')} -> ${FIXTURE}`,
        `fixture   ${FIXTURE_SHA256}   new      ${join(dir, 'fixture')} -> ${FIXTURE}`,
        "a running engine checks these pins at each plugin's next launch; 'secrets-engine plugins enable NAME' launches a plugin it refused",
        '',
      ].join('\n'),
    );
    expect(JSON.parse(readFileSync(pinFile, 'utf8'))).toEqual({
      version: 1,
      pins: { alpha: FIXTURE_SHA256, fixture: FIXTURE_SHA256 },
    });
    expect(statSync(pinFile).mode & 0o022).toBe(0); // writable by its owner only
  });

  it('again: changed, unchanged and dropped pins; --json; -d', async () => {
    const { dir, pinFile } = pluginsFolder(['alpha', 'beta', 'gone']);
    expect((await runCli(['plugins', 'pin', '-d', dir])).code).toBe(0);
    rmSync(join(dir, 'alpha'));
    const other = otherExecutable();
    symlinkSync(other, join(dir, 'alpha'));
    rmSync(join(dir, 'gone'));
    const text = await runCli(['plugins', 'pin', '-d', dir]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^alpha +sha256:[0-9a-f]{64} +changed +/m);
    expect(text.stdout).toMatch(/^beta +sha256:[0-9a-f]{64} +unchanged +/m);
    expect(text.stdout).toContain(`dropped the pin of "gone" (no longer in ${dir})\n`);

    const json = await runCli(['plugins', 'pin', '--plugins-dir', dir, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      pinFile,
      pins: [
        {
          name: 'alpha',
          path: join(dir, 'alpha'),
          realPath: other,
          sha256: `sha256:${createHash('sha256').update(readFileSync(other)).digest('hex')}`,
          change: 'unchanged',
        },
        {
          name: 'beta',
          path: join(dir, 'beta'),
          realPath: FIXTURE,
          sha256: FIXTURE_SHA256,
          change: 'unchanged',
        },
      ],
      dropped: [],
      replacedInvalid: null,
    });
  });

  it('an empty folder is pinned to nothing, and says what that means', async () => {
    const { dir, pinFile } = pluginsFolder([]);
    const r = await runCli(['plugins', 'pin', '-d', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(
      `pinned no plugins in ${pinFile}: while it exists, the engine launches no plugin from ${dir}`,
    );
  });

  it('warns on stderr about a pin file it replaced and a file it skipped', async () => {
    const { dir, pinFile } = pluginsFolder();
    writeFileSync(pinFile, '{"version":2}');
    writeFileSync(join(dir, 'bad\tname'), '#!/bin/sh\n', { mode: 0o755 });
    const r = await runCli(['plugins', 'pin', '-d', dir]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `secrets-engine: warning: replaced an unusable pin file: pin file ${pinFile}: "version" must be 1, got number 2\n`,
    );
    expect(r.stderr).toMatch(
      /^secrets-engine: warning: skipping plugin with an invalid name: file="bad\\tname": parsing name: .+$/m,
    );
    expect(JSON.parse(readFileSync(pinFile, 'utf8')).pins).toEqual({ fixture: FIXTURE_SHA256 });
  });

  it('a folder that does not exist, two files for one plugin: exit 1, one line, nothing written', async () => {
    const missing = join(tempDir(), 'nope');
    const r = await runCli(['plugins', 'pin', '-d', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`secrets-engine: plugins folder ${missing} does not exist; nothing to pin\n`);
    const { dir, pinFile } = pluginsFolder(['alpha', 'alpha.exe']);
    const twice = await runCli(['plugins', 'pin', '-d', dir]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(
      /^secrets-engine: .+alpha and .+alpha\.exe would both be plugin "alpha"; keep one/,
    );
    expectNoStack(twice.stderr);
    expect(() => statSync(pinFile)).toThrow();
  });

  it.each([
    ['without --plugins-dir', ['plugins', 'pin'], /^secrets-engine: plugins pin needs --plugins-dir DIR/],
    [
      'with --socket',
      ['plugins', 'pin', '-d', '.', '--socket', 'x.sock'],
      /^secrets-engine: plugins pin does not use --socket/,
    ],
    [
      'with an argument',
      ['plugins', 'pin', '-d', '.', 'alpha'],
      /^secrets-engine: unexpected argument "alpha"$/,
    ],
    [
      '--plugins-dir with ls',
      ['plugins', 'ls', '-d', '.'],
      /^secrets-engine: --plugins-dir is for plugins pin, install and uninstall only/,
    ],
  ])('%s: usage error, exit 64', async (_name, args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(64);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(message);
    expect(lines[1]).toMatch(/^Run 'secrets-engine plugins (pin )?--help' for usage\.$/);
  });
});

describe('serve on a pinned folder', () => {
  it('runs the pinned plugin; a swapped one is not launched, says why, and runs once pinned again and enabled', async () => {
    let pinOutput = '';
    const engine = await serve({
      plugins: ['fixture', 'swapped'],
      prepare: async (dir) => {
        const r = await runCli(['plugins', 'pin', '--plugins-dir', dir]);
        expect(r.code).toBe(0);
        pinOutput = r.stdout;
        // After pinning, `swapped` is made to point at another executable.
        rmSync(join(dir, 'swapped'));
        symlinkSync(otherExecutable('#!/bin/sh\necho this must not run >&2\nexit 1\n'), join(dir, 'swapped'));
      },
    });
    expect(pinOutput).toMatch(/^pinned 2 plugins in /);
    const pinFile = `${engine.pluginsDir}.pins.json`;
    expect(engine.ready).toMatch(/; plugins started: fixture; not running: swapped \(stopped\)$/);
    expect(engine.proc.stderr()).toContain(`plugin pinning is on pinFile=${pinFile}`);
    expect(engine.proc.stderr()).not.toContain('this must not run');

    const cli = (...args: string[]) => runCli([...args, '--socket', engine.socket]);
    const ls = await cli('plugins');
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^fixture +v1\.2\.3 +fixture\/\*\* +launched +running$/m);
    expect(ls.stdout).toMatch(
      new RegExp(
        `^swapped +- +- +launched +stopped +not launched: SHA-256 of ${engine.pluginsDir}/swapped \\(a symbolic link to .+/other\\) is [0-9a-f]{64}, the pin file ${pinFile} pins ${FIXTURE_SHA256.slice(7)} for "swapped"; pin it again if this file is genuine$`,
        'm',
      ),
    );
    const json = JSON.parse((await cli('plugins', '--json')).stdout) as { name: string }[];
    expect(json.find((p) => p.name === 'swapped')).toMatchObject({
      version: null,
      pattern: null,
      status: 'stopped',
      message: expect.stringMatching(/^not launched: SHA-256 of /),
    });
    const get = await cli('get', 'fixture/api-key', '--json');
    expect(JSON.parse(get.stdout).map((e: { provider: string }) => e.provider)).toEqual(['fixture']);

    // Back to the genuine file: pin, enable, it runs.
    rmSync(join(engine.pluginsDir, 'swapped'));
    symlinkSync(FIXTURE, join(engine.pluginsDir, 'swapped'));
    const again = await runCli(['plugins', 'pin', '-d', engine.pluginsDir]);
    expect(again.stdout).toMatch(/^swapped +sha256:[0-9a-f]{64} +unchanged +/m);
    expect((await cli('plugins', 'enable', 'swapped')).code).toBe(0);
    await waitFor(
      'swapped to run',
      async () => /^swapped +v1\.2\.3 .+ running$/m.test((await cli('plugins')).stdout),
      { intervalMs: 200 },
    );
    expect((await engine.stop()).code).toBe(0);
  });

  it('a pin file that does not parse: serve starts, launches nothing, and says why', async () => {
    const engine = await serve({
      prepare: (dir) => writeFileSync(`${dir}.pins.json`, '{"version":1,"pins":{"fixture":"sha256:00"}}'),
    });
    expect(engine.ready).toMatch(/; plugins started: none; not running: fixture \(stopped\)$/);
    const ls = await runCli(['plugins', '--socket', engine.socket]);
    expect(ls.stdout).toContain(
      `not launched: pin file ${engine.pluginsDir}.pins.json: pins["fixture"]: expected "sha256:" and 64 lowercase hex digits, got "sha256:00"`,
    );
    expect((await engine.stop()).code).toBe(0);
  });
});
