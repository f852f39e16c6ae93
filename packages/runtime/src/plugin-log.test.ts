// A launched plugin's output file (issue 13 item 1): followed into the engine log, 0600, rotated.
import {
  closeSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { captureLogger } from './__tests__/helpers.js';
import { openPluginLog, pluginLogPath } from './plugin-log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function state(): string {
  const d = mkdtempSync(join(tmpdir(), 'se-plog-'));
  dirs.push(d);
  return d;
}

describe('openPluginLog', () => {
  it('follows what the plugin appends into the logger, line by line, from this attempt on', async () => {
    const dir = state();
    const first = openPluginLog(dir, 'alpha');
    writeSync(first.fd, 'from an earlier attempt\n');
    closeSync(first.fd);
    const log = openPluginLog(dir, 'alpha');
    const logger = captureLogger();
    const follower = log.follow(logger.child({ plugin: 'alpha' }));
    writeSync(log.fd, 'hello\nwor');
    writeSync(log.fd, 'ld\nno newline at the end');
    closeSync(log.fd);
    await expect.poll(() => logger.entries.length).toBeGreaterThanOrEqual(2);
    follower.close();
    follower.close(); // idempotent
    expect(logger.entries.map((e) => [e.message, e.attributes])).toEqual([
      ['hello', { plugin: 'alpha', stream: 'output' }],
      ['world', { plugin: 'alpha', stream: 'output' }],
      ['no newline at the end', { plugin: 'alpha', stream: 'output' }],
    ]);
    expect(statSync(log.path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'logs')).mode & 0o777).toBe(0o700);
  });

  it('rotates a file over the limit at launch and while the plugin writes', async () => {
    const dir = state();
    const old = openPluginLog(dir, 'big', 1024);
    writeSync(old.fd, `${'x'.repeat(2000)}\n`);
    closeSync(old.fd);
    const log = openPluginLog(dir, 'big', 1024);
    expect(readFileSync(`${log.path}.1`, 'utf8')).toHaveLength(2001);
    expect(statSync(log.path).size).toBe(0);
    const logger = captureLogger();
    const follower = log.follow(logger);
    writeSync(log.fd, `${'y'.repeat(1500)}\n`);
    await expect.poll(() => statSync(log.path).size).toBe(0);
    writeSync(log.fd, 'after rotation\n');
    closeSync(log.fd);
    await expect.poll(() => logger.entries.map((e) => e.message).includes('after rotation')).toBe(true);
    follower.close();
    expect(readFileSync(`${log.path}.1`, 'utf8')).toBe(`${'y'.repeat(1500)}\n`);
    expect(readFileSync(log.path, 'utf8')).toBe('after rotation\n');
  });

  it('refuses a log file that is a symlink', () => {
    const dir = state();
    openPluginLog(dir, 'gamma'); // creates logs/
    rmSync(pluginLogPath(dir, 'gamma'));
    symlinkSync('/etc/passwd', pluginLogPath(dir, 'gamma'));
    expect(() => openPluginLog(dir, 'gamma')).toThrow(/gamma\.log is a symbolic link/);
    expect(lstatSync(pluginLogPath(dir, 'gamma')).isSymbolicLink()).toBe(true);
  });
});
