// The state folder (issue 13 items 1, 2): private folders, process-group records and what an
// engine does with the records a killed predecessor left.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { captureLogger } from './__tests__/helpers.js';
import { EngineConfigError } from './errors.js';
import { defaultStateDir, ensurePrivateDir, reapOrphanGroups, recordGroup } from './state.js';

const dirs: string[] = [];
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'se-state-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('defaultStateDir', () => {
  it('is beside a filesystem socket, and per uid for an abstract one', () => {
    expect(defaultStateDir('/run/user/1000/secrets-engine/engine.sock')).toBe(
      '/run/user/1000/secrets-engine/engine.sock.state',
    );
    expect(defaultStateDir('@se-test')).toBe(
      join(tmpdir(), `secrets-engine-${process.getuid?.()}`, 'se-test.state'),
    );
  });
});

describe('ensurePrivateDir', () => {
  it('creates the folder 0700', () => {
    const d = join(temp(), 'a', 'b');
    ensurePrivateDir(d);
    ensurePrivateDir(d); // idempotent
  });

  it('refuses a symlink, a file and a group/other-writable folder, naming the path', () => {
    const base = temp();
    const target = join(base, 'target');
    mkdirSync(target, { mode: 0o700 });
    symlinkSync(target, join(base, 'link'));
    expect(() => ensurePrivateDir(join(base, 'link'))).toThrow(/link is a symbolic link/);
    writeFileSync(join(base, 'file'), '');
    expect(() => ensurePrivateDir(join(base, 'file'))).toThrow(EngineConfigError);
    const open = join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(() => ensurePrivateDir(open)).toThrow(/open is writable by others \(mode 0777\)/);
  });

  it.runIf(process.getuid?.() === 0)('refuses a folder another uid owns', () => {
    const d = join(temp(), 'theirs');
    mkdirSync(d, { mode: 0o700 });
    chownSync(d, 65534, 65534);
    expect(() => ensurePrivateDir(d)).toThrow(/owned by uid 65534/);
  });
});

describe.runIf(process.platform === 'linux')('reapOrphanGroups', () => {
  function leader(): Promise<number> {
    // A group leader with a member, as a launched plugin with a helper.
    const child = spawn('sh', ['-c', 'sleep 60 & sleep 60'], { detached: true, stdio: 'ignore' });
    child.unref();
    return new Promise((resolve) => child.once('spawn', () => resolve(child.pid!)));
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('ends a group recorded by an engine that is gone, and drops the record', async () => {
    const state = temp();
    const pgid = await leader();
    recordGroup(state, 'p', pgid);
    // Rewrite the record as a dead engine's: pid 2^22 + 1 is above Linux's pid_max.
    const file = join(state, 'groups', 'p.json');
    const record = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...record, engine: 4_194_305 }));
    const logger = captureLogger();
    expect(reapOrphanGroups(state, logger)).toEqual(['p']);
    await expect.poll(() => alive(pgid)).toBe(false);
    expect(readdirSync(join(state, 'groups'))).toEqual([]);
    expect(logger.entries.some((e) => e.message === 'ended processes a previous engine left running')).toBe(
      true,
    );
  });

  it('leaves a group whose engine is still running, and one whose id was reused', async () => {
    const state = temp();
    const pgid = await leader();
    try {
      recordGroup(state, 'mine', pgid); // recorded by this (live) process
      expect(reapOrphanGroups(state, captureLogger())).toEqual([]);
      expect(alive(pgid)).toBe(true);
      // A dead engine's record whose leader started later than recorded: not the same group.
      const file = join(state, 'groups', 'mine.json');
      const record = JSON.parse(readFileSync(file, 'utf8'));
      writeFileSync(
        file,
        JSON.stringify({ ...record, engine: 4_194_305, startTicks: record.startTicks - 1 }),
      );
      expect(reapOrphanGroups(state, captureLogger())).toEqual([]);
      expect(alive(pgid)).toBe(true);
    } finally {
      process.kill(-pgid, 'SIGKILL');
    }
  });
});
