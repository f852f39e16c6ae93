import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { killProcessGroup } from './process-group.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('killProcessGroup', () => {
  it.skipIf(process.platform === 'win32')('kills the leader and the grandchild it started', async () => {
    // The leader starts a grandchild in its group and prints its pid.
    const leader = spawn(
      process.execPath,
      [
        '-e',
        "const c = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); console.log(c.pid); setInterval(() => {}, 1000);",
      ],
      { detached: true, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const [line] = (await once(leader.stdout, 'data')) as [Buffer];
    const grandchild = Number(line.toString().trim());
    expect(alive(grandchild)).toBe(true);
    const exited = once(leader, 'exit');
    expect(killProcessGroup(leader, 'SIGKILL')).toBe(true);
    await exited;
    for (let i = 0; i < 100 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(grandchild)).toBe(false);
  });

  it('a child that is not a group leader is signalled alone; nothing to signal is false, not a throw', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const exited = once(child, 'exit');
    expect(killProcessGroup(child, 'SIGTERM')).toBe(true);
    const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    expect(signal).toBe('SIGTERM');
    expect(killProcessGroup(undefined)).toBe(false);
    expect(killProcessGroup(child.pid)).toBe(false); // exited: no such group
  });
});
