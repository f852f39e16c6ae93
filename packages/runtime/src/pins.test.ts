// Pinning of plugin executables: the pin file's name and parser, reading it, the streaming hash,
// the check run before every launch, and pinPlugins() (real files in temporary folders).
import { createHash } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { captureLogger, tempDir } from './__tests__/helpers.js';
import { PinError } from './errors.js';
import {
  formatPinFile,
  hashExecutable,
  MAX_PIN_FILE_BYTES,
  PinCheck,
  parsePinFile,
  pinFilePath,
  pinPlugin,
  pinPlugins,
  readPinFile,
  unpinPlugin,
} from './pins.js';

// Lets a test act between two chunks of a hash (to replace a file while it is being hashed).
const hooks = vi.hoisted(() => ({ onUpdate: undefined as (() => void) | undefined }));
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  return {
    ...crypto,
    createHash: (algorithm: string) => {
      const hash = crypto.createHash(algorithm);
      const update = hash.update.bind(hash);
      hash.update = ((data: Buffer) => {
        hooks.onUpdate?.();
        return update(data);
      }) as typeof hash.update;
      return hash;
    },
  };
});

const sha256 = (content: string | Buffer) => `sha256:${createHash('sha256').update(content).digest('hex')}`;
const PIN_A = `sha256:${'a'.repeat(64)}`;
const asRoot = process.getuid?.() === 0;

/** An executable `name` in `dir` with `content`; its path. */
function executable(dir: string, name: string, content = `#!/bin/sh\necho ${name}\n`): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, 0o755);
  return path;
}

/** A folder `plugins` in a fresh temporary folder, and its pin file path. */
function pluginsFolder(): { dir: string; pinFile: string } {
  const dir = join(tempDir(), 'plugins');
  mkdirSync(dir);
  return { dir, pinFile: `${dir}.pins.json` };
}

function pinError(fn: () => unknown): PinError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PinError);
    return err as PinError;
  }
  throw new Error('expected a PinError');
}

async function pinErrorOf(promise: Promise<unknown>): Promise<PinError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PinError);
  return err as PinError;
}

describe('pinFilePath', () => {
  it('is beside the plugins folder, named after it', () => {
    expect(pinFilePath('/home/u/.local/lib/secrets-engine/plugins')).toBe(
      '/home/u/.local/lib/secrets-engine/plugins.pins.json',
    );
    expect(pinFilePath('/opt/se/plugins/')).toBe('/opt/se/plugins.pins.json');
    expect(pinFilePath('plugins')).toBe(join(process.cwd(), 'plugins.pins.json'));
  });
});

describe('parsePinFile', () => {
  const F = '/x/plugins.pins.json';

  it('reads version 1 with plugin name → sha256 pins (a BOM is ignored)', () => {
    const text = JSON.stringify({ version: 1, pins: { alpha: PIN_A, 'b.c': sha256('b') } });
    expect(parsePinFile(text, F)).toEqual(
      new Map([
        ['alpha', PIN_A],
        ['b.c', sha256('b')],
      ]),
    );
    expect(parsePinFile(`\uFEFF${text}`, F).size).toBe(2);
    expect(parsePinFile('{"version":1,"pins":{}}', F).size).toBe(0);
  });

  it('round-trips formatPinFile (sorted names, final newline)', () => {
    const pins = new Map([
      ['zeta', PIN_A],
      ['alpha', sha256('x')],
    ]);
    const text = formatPinFile(pins);
    expect(text).toBe(
      `{\n  "version": 1,\n  "pins": {\n    "alpha": "${sha256('x')}",\n    "zeta": "${PIN_A}"\n  }\n}\n`,
    );
    expect(parsePinFile(text, F)).toEqual(pins);
  });

  const cases: [string, string, RegExp, string | undefined][] = [
    [
      'not JSON',
      '{"version":1,',
      /^pin file \/x\/plugins\.pins\.json is not valid JSON \(.+\); expected \{"version":1,"pins":\{"NAME":"sha256:<64 lowercase hex digits>"\}\}$/,
      undefined,
    ],
    [
      'an array',
      '[]',
      /^pin file \/x\/plugins\.pins\.json: expected a JSON object \{"version":1,.*got an array$/,
      undefined,
    ],
    ['no version', '{"pins":{}}', /: "version" must be 1, got nothing$/, 'version'],
    ['version 2', '{"version":2,"pins":{}}', /: "version" must be 1, got number 2$/, 'version'],
    ['version "1"', '{"version":"1","pins":{}}', /: "version" must be 1, got "1"$/, 'version'],
    [
      'no pins',
      '{"version":1}',
      /: "pins" must be an object of plugin name → "sha256:<64 lowercase hex digits>", got nothing$/,
      'pins',
    ],
    ['pins an array', '{"version":1,"pins":[]}', /: "pins" must be an object .*, got an array$/, 'pins'],
    [
      'an unknown key',
      '{"version":1,"pins":{},"pin":{}}',
      /: unknown key "pin" \(allowed: "version", "pins"\)$/,
      'pin',
    ],
    [
      'a short hash',
      '{"version":1,"pins":{"alpha":"sha256:abc"}}',
      /: pins\["alpha"\]: expected "sha256:" and 64 lowercase hex digits, got "sha256:abc"$/,
      'pins["alpha"]',
    ],
    [
      'upper-case hex',
      `{"version":1,"pins":{"alpha":"${PIN_A.toUpperCase()}"}}`,
      /: pins\["alpha"\]: expected "sha256:" and 64 lowercase hex digits/,
      'pins["alpha"]',
    ],
    [
      'no prefix',
      `{"version":1,"pins":{"alpha":"${'a'.repeat(64)}"}}`,
      /: pins\["alpha"\]: expected "sha256:"/,
      'pins["alpha"]',
    ],
    [
      'a number',
      '{"version":1,"pins":{"alpha":42}}',
      /: pins\["alpha"\]: expected .*, got number 42$/,
      'pins["alpha"]',
    ],
    [
      'a bad name',
      `{"version":1,"pins":{"bad\\tname":"${PIN_A}"}}`,
      /: pins\["bad\\tname"\]: not a plugin name \(parsing name: .+\)$/,
      'pins["bad\\tname"]',
    ],
  ];
  it.each(cases)('%s: a PinError naming the file and the entry', (_name, text, message, entry) => {
    const err = pinError(() => parsePinFile(text, F));
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(`pin file ${F}`)).toBe(true);
    expect(err.pinFile).toBe(F);
    expect(err.entry).toBe(entry);
    expect(err.name).toBe('PinError');
  });

  it('cuts a long wrong value in the message', () => {
    const err = pinError(() => parsePinFile(`{"version":1,"pins":{"a":"${'x'.repeat(500)}"}}`, F));
    expect(err.message.length).toBeLessThan(250);
    expect(err.message).toMatch(/x…"$/);
  });
});

describe('readPinFile', () => {
  it('undefined when there is no file; the pins when it parses', async () => {
    const { pinFile } = pluginsFolder();
    expect(await readPinFile(pinFile)).toBeUndefined();
    writeFileSync(pinFile, formatPinFile(new Map([['alpha', PIN_A]])));
    expect(await readPinFile(pinFile)).toEqual(new Map([['alpha', PIN_A]]));
  });

  it('a file that does not parse, a folder, a symlink to nothing, a huge file: PinError', async () => {
    const { pinFile } = pluginsFolder();
    writeFileSync(pinFile, 'not json');
    expect((await pinErrorOf(readPinFile(pinFile))).message).toMatch(/is not valid JSON/);

    const dirFile = join(tempDir(), 'x.pins.json');
    mkdirSync(dirFile);
    expect((await pinErrorOf(readPinFile(dirFile))).message).toBe(
      `pin file ${dirFile} is not a regular file`,
    );

    const dangling = join(tempDir(), 'y.pins.json');
    symlinkSync(join(tempDir(), 'nothing'), dangling);
    expect((await pinErrorOf(readPinFile(dangling))).message).toBe(
      `pin file ${dangling} is a symbolic link to a file that does not exist`,
    );

    const huge = join(tempDir(), 'z.pins.json');
    writeFileSync(huge, ' '.repeat(MAX_PIN_FILE_BYTES + 1));
    expect((await pinErrorOf(readPinFile(huge))).message).toBe(
      `pin file ${huge} is ${MAX_PIN_FILE_BYTES + 1} bytes, more than the ${MAX_PIN_FILE_BYTES} allowed`,
    );
  });

  it.skipIf(asRoot)('an unreadable file: PinError', async () => {
    const { pinFile } = pluginsFolder();
    writeFileSync(pinFile, '{}', { mode: 0o200 });
    expect((await pinErrorOf(readPinFile(pinFile))).message).toMatch(/^cannot read pin file .+: EACCES/);
  });
});

describe('hashExecutable', () => {
  it('is the SHA-256 of the content, streamed (a file of several chunks)', async () => {
    const dir = tempDir();
    const big = Buffer.alloc(5 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const path = join(dir, 'big');
    writeFileSync(path, big);
    expect(await hashExecutable(path)).toEqual({ sha256: sha256(big), realPath: path });
    expect(await hashExecutable(executable(dir, 'empty', ''))).toMatchObject({ sha256: sha256('') });
  });

  it('follows symbolic links: hashes what would be executed', async () => {
    const dir = tempDir();
    const target = executable(dir, 'real', 'the real plugin');
    mkdirSync(join(dir, 'plugins'));
    const link = join(dir, 'plugins', 'alpha');
    symlinkSync(target, link);
    expect(await hashExecutable(link)).toEqual({ sha256: sha256('the real plugin'), realPath: target });
  });

  it('a missing file, a folder: PinError', async () => {
    const dir = tempDir();
    expect((await pinErrorOf(hashExecutable(join(dir, 'nope')))).message).toMatch(
      /^cannot read plugin executable .+nope to hash it: ENOENT/,
    );
    expect((await pinErrorOf(hashExecutable(dir))).message).toMatch(/is not a regular file|EISDIR/);
  });

  it('a file replaced while it is hashed: PinError, not a hash', async () => {
    const dir = tempDir();
    const path = executable(dir, 'alpha', 'x'.repeat(300_000));
    const other = executable(dir, 'other', 'evil');
    let swapped = false;
    hooks.onUpdate = () => {
      if (swapped) return;
      swapped = true;
      renameSync(other, path);
    };
    try {
      expect((await pinErrorOf(hashExecutable(path))).message).toBe(
        `plugin executable ${path} changed while it was being hashed; a file that is being replaced or written is not launched`,
      );
    } finally {
      hooks.onUpdate = undefined;
    }
  });

  it('a file written to while it is hashed: PinError', async () => {
    const dir = tempDir();
    const path = executable(dir, 'alpha', 'x'.repeat(300_000));
    let written = false;
    hooks.onUpdate = () => {
      if (written) return;
      written = true;
      writeFileSync(path, 'y', { flag: 'a' });
    };
    try {
      expect((await pinErrorOf(hashExecutable(path))).message).toMatch(/changed while it was being hashed/);
    } finally {
      hooks.onUpdate = undefined;
    }
  });

  it.skipIf(asRoot)('an executable that cannot be read (mode 0111): PinError', async () => {
    const path = executable(tempDir(), 'alpha');
    chmodSync(path, 0o111);
    expect((await pinErrorOf(hashExecutable(path))).message).toMatch(/to hash it: EACCES/);
  });
});

describe('PinCheck', () => {
  it('no pin file: pinning off, every plugin may launch', async () => {
    const { dir } = pluginsFolder();
    const check = await PinCheck.forPluginsDir(dir);
    expect(check.on).toBe(false);
    expect(await check.check('alpha', executable(dir, 'alpha'))).toBeUndefined();
  });

  it('a matching pin launches; a wrong hash, a missing pin, a bad pin file say why', async () => {
    const { dir, pinFile } = pluginsFolder();
    const alpha = executable(dir, 'alpha');
    const beta = executable(dir, 'beta');
    const good = sha256(readFileSync(alpha));
    writeFileSync(
      pinFile,
      formatPinFile(
        new Map([
          ['alpha', good],
          ['beta', PIN_A],
        ]),
      ),
    );
    const check = await PinCheck.forPluginsDir(dir);
    expect(check.on).toBe(true);
    expect(check.pinFile).toBe(pinFile);
    expect(await check.check('alpha', alpha)).toBeUndefined();
    expect(await check.check('beta', beta)).toBe(
      `SHA-256 of ${beta} is ${sha256(readFileSync(beta)).slice(7)}, the pin file ${pinFile} pins ${'a'.repeat(64)} for "beta"; pin it again if this file is genuine`,
    );
    expect(await check.check('gamma', executable(dir, 'gamma'))).toBe(
      `no pin for "gamma" in the pin file ${pinFile}; while that file exists, every plugin needs one ("gamma": "sha256:<64 hex digits>")`,
    );
    writeFileSync(pinFile, '{"version":1,"pins":{"alpha":"md5:00"}}');
    expect(await check.check('alpha', alpha)).toBe(
      `pin file ${pinFile}: pins["alpha"]: expected "sha256:" and 64 lowercase hex digits, got "md5:00"`,
    );
  });

  it('reads the pin file and hashes at every check: a swapped executable, a new pin', async () => {
    const { dir, pinFile } = pluginsFolder();
    const alpha = executable(dir, 'alpha');
    writeFileSync(pinFile, formatPinFile(new Map([['alpha', sha256(readFileSync(alpha))]])));
    const check = await PinCheck.forPluginsDir(dir);
    expect(await check.check('alpha', alpha)).toBeUndefined();
    writeFileSync(alpha, '#!/bin/sh\necho swapped\n');
    expect(await check.check('alpha', alpha)).toMatch(/^SHA-256 of .+alpha is [0-9a-f]{64}, the pin file/);
    writeFileSync(pinFile, formatPinFile(new Map([['alpha', sha256(readFileSync(alpha))]])));
    expect(await check.check('alpha', alpha)).toBeUndefined();
  });

  it('names the target of a symbolic link it hashed', async () => {
    const { dir, pinFile } = pluginsFolder();
    const target = executable(tempDir(), 'real');
    const link = join(dir, 'alpha');
    symlinkSync(target, link);
    writeFileSync(pinFile, formatPinFile(new Map([['alpha', PIN_A]])));
    const check = await PinCheck.forPluginsDir(dir);
    expect(await check.check('alpha', link)).toMatch(
      new RegExp(`^SHA-256 of ${link} \\(a symbolic link to ${target}\\) is [0-9a-f]{64}, `),
    );
  });

  it('once on, stays on: a pin file that disappears refuses every launch', async () => {
    const { dir, pinFile } = pluginsFolder();
    const alpha = executable(dir, 'alpha');
    const check = await PinCheck.forPluginsDir(dir);
    expect(check.on).toBe(false);
    // A pin file created after the start turns pinning on at the next check.
    writeFileSync(pinFile, formatPinFile(new Map([['alpha', sha256(readFileSync(alpha))]])));
    expect(await check.check('alpha', alpha)).toBeUndefined();
    expect(check.on).toBe(true);
    renameSync(pinFile, `${pinFile}.old`);
    expect(await check.check('alpha', alpha)).toBe(
      `the pin file ${pinFile} existed and is gone; pinning stays on until the engine restarts without it (pin the plugins again to launch them)`,
    );
  });
});

describe('pinPlugins', () => {
  it('pins every plugin of the folder, writes the pin file atomically, 0644 at most', async () => {
    const { dir, pinFile } = pluginsFolder();
    const alpha = executable(dir, 'alpha');
    const target = executable(tempDir(), 'real-beta');
    symlinkSync(target, join(dir, 'beta.exe'));
    writeFileSync(join(dir, 'README'), 'not executable');
    executable(dir, 'bad\tname');
    const logger = captureLogger();
    const result = await pinPlugins(dir, { logger });
    expect(result).toEqual({
      pinFile,
      pins: [
        { name: 'alpha', path: alpha, realPath: alpha, sha256: sha256(readFileSync(alpha)), change: 'new' },
        {
          name: 'beta',
          path: join(dir, 'beta.exe'),
          realPath: target,
          sha256: sha256(readFileSync(target)),
          change: 'new',
        },
      ],
      dropped: [],
      replacedInvalid: undefined,
    });
    expect(await readPinFile(pinFile)).toEqual(new Map(result.pins.map((p) => [p.name, p.sha256])));
    expect(readFileSync(pinFile, 'utf8')).toBe(
      formatPinFile(new Map(result.pins.map((p) => [p.name, p.sha256]))),
    );
    const umask = process.umask();
    expect(statSync(pinFile).mode & 0o777).toBe(0o644 & ~umask);
    // No temporary file left beside it; the plugins folder untouched.
    expect(readdirSync(join(dir, '..')).sort()).toEqual(['plugins', 'plugins.pins.json']);
    expect(logger.entries.map((e) => e.message)).toContain('skipping plugin with an invalid name');
  });

  it('again: says which pins are new, changed, unchanged and dropped', async () => {
    const { dir, pinFile } = pluginsFolder();
    const alpha = executable(dir, 'alpha');
    executable(dir, 'beta');
    const gone = executable(dir, 'gone');
    await pinPlugins(dir);
    writeFileSync(alpha, '#!/bin/sh\necho new version\n');
    renameSync(gone, join(tempDir(), 'gone'));
    executable(dir, 'gamma');
    const again = await pinPlugins(dir);
    expect(again.pins.map((p) => [p.name, p.change])).toEqual([
      ['alpha', 'changed'],
      ['beta', 'unchanged'],
      ['gamma', 'new'],
    ]);
    expect(again.dropped).toEqual(['gone']);
    expect([...((await readPinFile(pinFile))?.keys() ?? [])]).toEqual(['alpha', 'beta', 'gamma']);
  });

  it('replaces a pin file that does not parse, and says why', async () => {
    const { dir, pinFile } = pluginsFolder();
    executable(dir, 'alpha');
    writeFileSync(pinFile, '{"version":1,"pins":{"alpha":"sha256:zz"}}');
    const result = await pinPlugins(dir);
    expect(result.replacedInvalid).toMatch(/^pin file .+: pins\["alpha"\]: expected "sha256:"/);
    expect(result.pins[0]?.change).toBe('new');
    expect((await readPinFile(pinFile))?.get('alpha')).toBe(result.pins[0]?.sha256);
  });

  it('writes through a pin file that is a symbolic link (the link stays)', async () => {
    const { dir, pinFile } = pluginsFolder();
    executable(dir, 'alpha');
    const real = join(tempDir(), 'managed.pins.json');
    writeFileSync(real, '{"version":1,"pins":{}}');
    symlinkSync(real, pinFile);
    await pinPlugins(dir);
    expect((await readPinFile(real))?.has('alpha')).toBe(true);
    expect(statSync(pinFile).ino).toBe(statSync(real).ino);
  });

  it('an empty folder: a pin file with no pins (the engine then launches nothing)', async () => {
    const { dir, pinFile } = pluginsFolder();
    expect((await pinPlugins(dir)).pins).toEqual([]);
    expect(readFileSync(pinFile, 'utf8')).toBe('{\n  "version": 1,\n  "pins": {}\n}\n');
  });

  it('two files that would be one plugin, a missing folder, a file: PinError, nothing written', async () => {
    const { dir, pinFile } = pluginsFolder();
    executable(dir, 'alpha');
    executable(dir, 'alpha.exe');
    expect((await pinErrorOf(pinPlugins(dir))).message).toBe(
      `${join(dir, 'alpha')} and ${join(dir, 'alpha.exe')} would both be plugin "alpha"; keep one of them (a pin names one file per plugin)`,
    );
    expect(await readPinFile(pinFile)).toBeUndefined();
    const missing = join(tempDir(), 'nope');
    expect((await pinErrorOf(pinPlugins(missing))).message).toBe(
      `plugins folder ${missing} does not exist; nothing to pin`,
    );
    const file = executable(tempDir(), 'file');
    expect((await pinErrorOf(pinPlugins(file))).message).toBe(`plugins folder ${file} is not a folder`);
  });

  it.skipIf(asRoot)('a plugin that cannot be hashed: PinError, the old pin file kept', async () => {
    const { dir, pinFile } = pluginsFolder();
    const alpha = executable(dir, 'alpha');
    await pinPlugins(dir);
    const before = readFileSync(pinFile, 'utf8');
    executable(dir, 'beta');
    chmodSync(join(dir, 'beta'), 0o111);
    expect((await pinErrorOf(pinPlugins(dir))).message).toMatch(/beta to hash it: EACCES/);
    expect(readFileSync(pinFile, 'utf8')).toBe(before);
    expect(alpha).toBeDefined();
  });

  it.skipIf(asRoot)('a folder the pin file cannot be written to: PinError naming the pin file', async () => {
    const parent = tempDir();
    const dir = join(parent, 'plugins');
    mkdirSync(dir);
    executable(dir, 'alpha');
    chmodSync(parent, 0o555);
    try {
      expect((await pinErrorOf(pinPlugins(dir))).message).toMatch(
        new RegExp(`^cannot write pin file ${parent}/plugins\\.pins\\.json: EACCES`),
      );
    } finally {
      chmodSync(parent, 0o755);
    }
  });
});

describe('pinPlugin and unpinPlugin (one plugin, the other pins untouched)', () => {
  it('pins one plugin, leaves the other pins as they are (even a stale one), and unpins it', async () => {
    const { dir, pinFile } = pluginsFolder();
    executable(dir, 'old', '#!/bin/sh\necho old\n');
    writeFileSync(pinFile, formatPinFile(new Map([['old', PIN_A]])));
    const target = join(tempDir(), 'real-bin');
    writeFileSync(target, '#!/bin/sh\necho new\n', { mode: 0o755 });
    symlinkSync(target, join(dir, 'new'));
    const update = await pinPlugin(dir, 'new');
    expect(update?.pinFile).toBe(pinFile);
    expect(update?.pin).toEqual({
      name: 'new',
      path: join(dir, 'new'),
      realPath: target,
      sha256: sha256('#!/bin/sh\necho new\n'),
      change: 'new',
    });
    // The stale pin of "old" is NOT refreshed: installing one plugin never blesses another.
    expect(await readPinFile(pinFile)).toEqual(
      new Map([
        ['new', sha256('#!/bin/sh\necho new\n')],
        ['old', PIN_A],
      ]),
    );
    expect((await pinPlugin(dir, 'new'))?.pin?.change).toBe('unchanged');
    expect(await unpinPlugin(dir, 'new')).toEqual({ pinFile, pin: undefined });
    expect(await readPinFile(pinFile)).toEqual(new Map([['old', PIN_A]]));
    expect(await unpinPlugin(dir, 'new'), 'no such pin: nothing to do').toBeUndefined();
  });

  it('leaves pinning off when there is no pin file (nothing written)', async () => {
    const { dir, pinFile } = pluginsFolder();
    executable(dir, 'a');
    expect(await pinPlugin(dir, 'a')).toBeUndefined();
    expect(await unpinPlugin(dir, 'a')).toBeUndefined();
    expect(readdirSync(join(dir, '..')).includes(`plugins.pins.json`), pinFile).toBe(false);
  });

  it('refuses an unparsable pin file and a plugin that is not in the folder, writing nothing', async () => {
    const { dir, pinFile } = pluginsFolder();
    executable(dir, 'a');
    writeFileSync(pinFile, '{"version":2,"pins":{}}');
    expect((await pinErrorOf(pinPlugin(dir, 'a'))).message).toMatch(/"version" must be 1/);
    expect((await pinErrorOf(unpinPlugin(dir, 'a'))).message).toMatch(/"version" must be 1/);
    expect(readFileSync(pinFile, 'utf8')).toBe('{"version":2,"pins":{}}');
    writeFileSync(pinFile, formatPinFile(new Map()));
    expect((await pinErrorOf(pinPlugin(dir, 'missing'))).message).toBe(
      `no plugin "missing" in ${dir} (an executable file named after it)`,
    );
    expect(readFileSync(pinFile, 'utf8')).toBe(formatPinFile(new Map()));
  });
});
