// Reading plugins' log files from outside the engine (issue 15 item 5): tails across the rotated
// file, following through both rotations plugin-log.ts does, and refusing folders and files that
// are not this user's own.
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PluginLogError } from './errors.js';
import { listPluginLogs, MAX_LOG_LINE, type PluginLogLine, streamPluginLogs } from './plugin-log-read.js';

let stateDir: string;
let logs: string;
beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'se-logs-'));
  chmodSync(stateDir, 0o700);
  logs = join(stateDir, 'logs');
  mkdirSync(logs, { mode: 0o700 });
});
afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

const write = (file: string, text: string) => writeFileSync(join(logs, file), text, { mode: 0o600 });

async function collect(
  options: Partial<Parameters<typeof streamPluginLogs>[0]> = {},
): Promise<PluginLogLine[]> {
  const lines: PluginLogLine[] = [];
  await streamPluginLogs({ stateDir, onLine: (l) => lines.push(l), ...options });
  return lines;
}

/** Resolves once `lines` satisfies `done` (polling; the test's own timeout bounds it). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 20));
}

describe('streamPluginLogs', () => {
  it('gives every plugin its rotated file, then its current one, with each line its level', async () => {
    write('alpha.log.1', 'old 1\nold 2\n');
    write('alpha.log', 'error: new 1\n    at trace\nnew 2 without newline');
    write('beta.log', 'beta 1\r\n');
    expect(listPluginLogs(stateDir)).toEqual(['alpha', 'beta']);
    expect(await collect()).toEqual([
      { plugin: 'alpha', line: 'old 1', level: 'info' },
      { plugin: 'alpha', line: 'old 2', level: 'info' },
      { plugin: 'alpha', line: 'error: new 1', level: 'error' },
      { plugin: 'alpha', line: '    at trace', level: 'error' },
      { plugin: 'alpha', line: 'new 2 without newline', level: 'info' },
      { plugin: 'beta', line: 'beta 1', level: 'info' },
    ]);
  });

  it('tail takes the last lines, reaching into the rotated file only when needed', async () => {
    write('alpha.log.1', 'r1\nr2\nr3\n');
    write('alpha.log', 'c1\nc2\n');
    const text = async (tail: number) => (await collect({ plugins: ['alpha'], tail })).map((l) => l.line);
    expect(await text(0)).toEqual([]);
    expect(await text(1)).toEqual(['c2']);
    expect(await text(2)).toEqual(['c1', 'c2']);
    expect(await text(3)).toEqual(['r3', 'c1', 'c2']);
    expect(await text(50)).toEqual(['r1', 'r2', 'r3', 'c1', 'c2']);
    write('alpha.log', 'c1\n\nlast');
    expect(await text(2)).toEqual(['', 'last']);
  });

  it('tail reads a file larger than its read chunk from the end', async () => {
    const many = Array.from({ length: 20_000 }, (_, i) => `line ${i}`).join('\n');
    write('big.log', `${many}\n`);
    const lines = await collect({ plugins: ['big'], tail: 3 });
    expect(lines.map((l) => l.line)).toEqual(['line 19997', 'line 19998', 'line 19999']);
  });

  it('cuts a line longer than MAX_LOG_LINE, saying how much was cut', async () => {
    write('long.log', `${'x'.repeat(MAX_LOG_LINE + 10)}\nnext\n`);
    const lines = await collect();
    expect(lines[0]!.line).toBe(`${'x'.repeat(MAX_LOG_LINE)}… (10 more characters)`);
    expect(lines[1]!.line).toBe('next');
  });

  it('follows appended lines through a copy-and-truncate and a move-aside rotation, losing none', async () => {
    write('alpha.log', 'one\n');
    const lines: string[] = [];
    const ac = new AbortController();
    const done = streamPluginLogs({
      stateDir,
      plugins: ['alpha'],
      follow: true,
      pollMs: 10,
      signal: ac.signal,
      onLine: (l) => lines.push(l.line),
    });
    await until(() => lines.length === 1);
    appendFileSync(join(logs, 'alpha.log'), 'two\nthr');
    await until(() => lines.length === 2);
    appendFileSync(join(logs, 'alpha.log'), 'ee\n');
    await until(() => lines.length === 3);
    // Copy-and-truncate while lines were not read yet: they come from the copy.
    appendFileSync(join(logs, 'alpha.log'), 'four\n');
    copyFileSync(join(logs, 'alpha.log'), join(logs, 'alpha.log.1'));
    truncateSync(join(logs, 'alpha.log'), 0);
    appendFileSync(join(logs, 'alpha.log'), 'five\n');
    await until(() => lines.includes('five'));
    // Moved aside at a launch, a new file in its place: the old one's rest, then the new one.
    appendFileSync(join(logs, 'alpha.log'), 'six\n');
    renameSync(join(logs, 'alpha.log'), join(logs, 'alpha.log.1'));
    write('alpha.log', 'seven\n');
    await until(() => lines.includes('seven'));
    ac.abort();
    await done;
    expect(lines).toEqual(['one', 'two', 'three', 'four', 'five', 'six', 'seven']);
  });

  it('following every plugin picks up a plugin whose log appears later', async () => {
    write('alpha.log', 'a\n');
    const seen: PluginLogLine[] = [];
    const ac = new AbortController();
    const done = streamPluginLogs({
      stateDir,
      follow: true,
      pollMs: 10,
      signal: ac.signal,
      onLine: (l) => seen.push(l),
    });
    await until(() => seen.length === 1);
    write('gamma.log', 'g1\ng2\n');
    await until(() => seen.length === 3);
    ac.abort();
    await done;
    expect(seen.map((l) => `${l.plugin}:${l.line}`)).toEqual(['alpha:a', 'gamma:g1', 'gamma:g2']);
  });

  it('a plugin with no log file is an error naming the plugins that have one', async () => {
    write('alpha.log', 'a\n');
    await expect(collect({ plugins: ['nope'] })).rejects.toThrow(
      new PluginLogError(
        `no log file for plugin "nope" in ${logs}: the engine writes one for each plugin it launches (plugins started by hand and builtin plugins log where they run); plugins with a log: alpha`,
      ),
    );
  });
});

describe('folders and files that are not our own are refused', () => {
  it('a missing state folder says where it looked and what to check', async () => {
    rmSync(stateDir, { recursive: true });
    expect(() => listPluginLogs(stateDir)).toThrow(
      `the state folder ${stateDir} does not exist; is the engine started with another --socket or --state-dir?`,
    );
  });
  it('a symbolic link for the logs folder', () => {
    rmSync(logs, { recursive: true });
    const elsewhere = mkdtempSync(join(tmpdir(), 'se-elsewhere-'));
    symlinkSync(elsewhere, logs);
    try {
      expect(() => listPluginLogs(stateDir)).toThrow(
        `the plugin log folder ${logs} is a symbolic link; the engine only writes to a real folder`,
      );
    } finally {
      rmSync(elsewhere, { recursive: true });
    }
  });
  it('a logs folder others can write', () => {
    chmodSync(logs, 0o773);
    expect(() => listPluginLogs(stateDir)).toThrow(PluginLogError);
    expect(() => listPluginLogs(stateDir)).toThrow(/is writable by others \(mode 0773\)/);
  });
  it('a log file that is a symbolic link', async () => {
    writeFileSync(join(stateDir, 'other.txt'), 'not a log\n');
    symlinkSync(join(stateDir, 'other.txt'), join(logs, 'alpha.log'));
    await expect(collect()).rejects.toThrow(
      `${join(logs, 'alpha.log')} is a symbolic link; a regular file is required`,
    );
  });
});
