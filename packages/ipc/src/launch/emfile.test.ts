// A spawn that fails for want of file descriptors is one failed launch, never a crash (issue 12
// item 2): the child's 'error' event used to fire with no listener and end the process.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

const SCRIPT = `
import { openSync } from 'node:fs';
const { launchPlugin, LaunchError } = await import(${JSON.stringify(dist)});
const fds = [];
try { for (;;) fds.push(openSync('/dev/null', 'r')); } catch {}
let thrown;
try { launchPlugin({ command: process.execPath, args: ['-e', '0'], name: 'p' }); } catch (e) { thrown = e; }
// Let the spawn's own 'error' event fire: it must not be an uncaught exception.
await new Promise((r) => setTimeout(r, 200));
console.log(JSON.stringify({ name: thrown?.name, isLaunchError: thrown instanceof LaunchError, message: thrown?.message }));
`;

describe.skipIf(process.platform === 'win32')('launchPlugin with a full fd table', () => {
  it('throws LaunchError and the process lives on (no uncaught spawn error)', () => {
    const r = spawnSync(
      'bash',
      ['-c', `ulimit -n 256; exec "${process.execPath}" --input-type=module -e "$0"`, SCRIPT],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim()) as { name?: string; isLaunchError: boolean; message?: string };
    expect(out).toMatchObject({ name: 'LaunchError', isLaunchError: true });
    expect(out.message).toMatch(/no socketpair for fd 3/);
  });
});
