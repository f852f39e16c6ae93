// openControllingTerminal, seen from a process on a real pseudo-terminal (python3's pty.fork makes
// the child a session leader with that terminal, in its foreground group) and from one with no
// terminal at all (setsid).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const RUNTIME = new URL('../dist/index.js', import.meta.url).href;
const PROBE = `const { openControllingTerminal } = await import(${JSON.stringify(RUNTIME)});
const t = openControllingTerminal();
console.log(JSON.stringify(t === undefined ? 'none' : t instanceof Error ? t.message : { foreground: t.isForeground() }));
t?.close?.();`;
// The child of pty.fork runs the probe; the parent copies the terminal's output to stdout.
const ON_PTY = `import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    sys.stdout.buffer.write(data)
os.waitpid(pid, 0)`;

const hasPython = spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0;

describe.runIf(process.platform === 'linux' || process.platform === 'darwin')(
  'openControllingTerminal',
  () => {
    it.runIf(hasPython)('on a terminal: there is one, and this process group is its foreground', () => {
      const r = spawnSync('python3', ['-c', ON_PTY, process.execPath, '--input-type=module', '-e', PROBE], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.stdout.trim()).toBe(JSON.stringify({ foreground: true }));
    });

    it.runIf(process.platform === 'linux')('in a session with no terminal: undefined', () => {
      const r = spawnSync('setsid', [process.execPath, '--input-type=module', '-e', PROBE], {
        encoding: 'utf8',
        timeout: 30_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe(JSON.stringify('none'));
    });
  },
);
