// `secrets-engine run` on a real pseudo-terminal (issue 16 item 1): the command keeps the terminal
// (stdin a terminal, a prompt read from /dev/tty), Ctrl-C reaches it once and the CLI waits for it,
// Ctrl-Z stops the job and `fg` resumes it under a job-control shell, and masking works with the
// output split across writes. Keys are typed through terminal.py --input.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NODE_BIN,
  noPty,
  PACKAGE_DIR,
  PTY_HELPER,
  type ServedEngine,
  serve,
  useCli,
  waitFor,
} from './__tests__/cli.js';
import { CONCEALED } from './mask.js';

useCli();

interface Terminal {
  readonly child: ChildProcess;
  /** Everything the terminal showed so far. */
  screen(): string;
  type(keys: string): void;
  /** Waits until the screen matches (fails at once if the terminal's command exited first). */
  waitFor(pattern: RegExp): Promise<void>;
  readonly exited: Promise<number | null>;
}

const open = new Set<ChildProcess>();
afterAll(() => {
  for (const child of open) child.kill('SIGKILL');
});

/** ARGV on a new terminal, as its controlling terminal and session leader. */
function onTerminal(argv: string[], env: Record<string, string> = {}): Terminal {
  const child = spawn('python3', [PTY_HELPER, '--input', '--', ...argv], {
    cwd: PACKAGE_DIR,
    env: { ...process.env, SECRETS_ENGINE_SOCKET: engine.socket, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  open.add(child);
  let shown = '';
  let exited = false;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    shown += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    shown += d;
  });
  const done = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      exited = true;
      open.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    screen: () => shown,
    type: (keys) => child.stdin!.write(keys),
    waitFor: (pattern) =>
      waitFor(
        `the terminal to show ${pattern}`,
        () => {
          if (pattern.test(shown)) return true;
          if (exited) throw new Error(`exited before the terminal showed ${pattern}:\n${shown}`);
          return undefined;
        },
        { timeoutMs: 15_000, intervalMs: 20, onTimeout: () => `\nscreen:\n${shown}` },
      ).then(() => undefined),
    exited: done,
  };
}

const cli = (...args: string[]) => [process.execPath, ...NODE_BIN, ...args];
const KEY_ENV = { KEY: 'se://fixture/api-key' };

let engine: ServedEngine;
beforeAll(async () => {
  engine = await serve();
});
afterAll(async () => {
  const r = await engine.stop();
  expect(r.code).toBe(0);
});

// A bound for a loaded machine (several processes per test), never an assertion about time.
describe.skipIf(noPty !== undefined)('run on a terminal', { timeout: 60_000 }, () => {
  it('keeps the terminal: stdin is it, a prompt on /dev/tty is answered, output is masked', async () => {
    const script =
      '[ -t 0 ] && echo "stdin: terminal"; [ -t 1 ] || echo "stdout: pipe"; ' +
      'printf "Passphrase: " > /dev/tty; read answer < /dev/tty; echo "answer=$answer key=$KEY"';
    const t = onTerminal(cli('run', '--', 'sh', '-c', script), KEY_ENV);
    await t.waitFor(/Passphrase: /);
    t.type('hunter2\n');
    expect(await t.exited).toBe(0);
    const screen = t.screen();
    expect(screen).toContain('stdin: terminal');
    expect(screen).toContain('stdout: pipe'); // the price of masking (README)
    expect(screen).toContain(`answer=hunter2 key=${CONCEALED}`);
    expect(screen).not.toContain('api-key-value');
    expect(screen).not.toContain('ENXIO');
  });

  it('with --no-masking the command has the terminal on stdout too', async () => {
    const t = onTerminal(
      cli('run', '--no-masking', '--', 'sh', '-c', '[ -t 1 ] && echo "stdout: terminal $KEY"'),
      KEY_ENV,
    );
    expect(await t.exited).toBe(0);
    expect(t.screen()).toContain('stdout: terminal api-key-value');
  });

  it('masks a value split across writes on the way to the terminal', async () => {
    // Every split point of the value, each half its own write(2), on stdout and on stderr.
    const child = `const fs = require('fs'); const v = process.env.KEY;
      for (let i = 1; i < v.length; i++) for (const fd of [1, 2]) {
        fs.writeSync(fd, '[' + v.slice(0, i)); fs.writeSync(fd, v.slice(i) + ']\\n');
      }
      fs.writeSync(1, 'done\\n');`;
    const t = onTerminal(cli('run', '--', process.execPath, '-e', child), KEY_ENV);
    expect(await t.exited).toBe(0);
    const screen = t.screen();
    expect(screen).toContain('done');
    expect(screen.split(`[${CONCEALED}]`).length - 1).toBe(2 * ('api-key-value'.length - 1));
    expect(screen).not.toMatch(/api-|-value/);
  });

  it('Ctrl-C reaches the command once (from the terminal), and the CLI waits for it', async () => {
    // The child takes SIGINT with sigwaitinfo (in a thread, at once), which tells who sent it:
    // the terminal (SI_KERNEL) or a process (its pid). A CLI that also forwarded the terminal's
    // SIGINT shows up as a second one, sent by the CLI.
    const child = [
      'import signal, sys, threading',
      'signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])',
      'n = 0',
      'def wait():',
      '    global n',
      '    while True:',
      '        info = signal.sigwaitinfo([signal.SIGINT])',
      '        n += 1',
      '        who = "terminal" if info.si_code == 0x80 else f"pid {info.si_pid}"',
      '        print(f"sigint {n} from {who}", flush=True)',
      'threading.Thread(target=wait, daemon=True).start()',
      'print("ready", flush=True)',
      'sys.stdin.readline()',
      'print(f"total {n}", flush=True)',
      'sys.exit(7)',
    ].join('\n');
    const t = onTerminal(cli('run', '--', 'python3', '-c', child), KEY_ENV);
    await t.waitFor(/ready/);
    t.type('\x03');
    await t.waitFor(/sigint 1 from/);
    t.type('q\n');
    expect(await t.exited).toBe(7);
    expect(t.screen()).toContain('sigint 1 from terminal');
    expect(t.screen()).toContain('total 1');
  });

  it('on a terminal, a SIGTERM sent to the CLI still reaches the command', async () => {
    // The shell prints its parent's pid: the CLI's.
    const t = onTerminal(
      cli(
        'run',
        '--',
        'sh',
        '-c',
        'trap "echo got TERM; exit 9" TERM; echo "cli=$PPID"; while :; do sleep 1 & wait; done',
      ),
      KEY_ENV,
    );
    await t.waitFor(/cli=\d+/);
    const pid = Number(/cli=(\d+)/.exec(t.screen())![1]);
    process.kill(pid, 'SIGTERM');
    expect(await t.exited).toBe(9);
    expect(t.screen()).toContain('got TERM');
  });

  it('Ctrl-C kills a command that does not handle it: exit 130', async () => {
    const t = onTerminal(cli('run', '--', 'sh', '-c', 'echo ready; exec sleep 60'), KEY_ENV);
    await t.waitFor(/ready/);
    t.type('\x03');
    expect(await t.exited).toBe(130);
  });

  it('Ctrl-Z stops the job (the CLI and the command) and fg resumes it with the terminal', async () => {
    // bash with job control is the shell: it reports the job stopped (128+SIGTSTP), waits for a
    // line, then brings the job back to the foreground.
    const child = `process.stdout.write('ready\\n');
      process.stdin.once('data', (d) => { process.stdout.write('read ' + String(d).trim() + ' key=' + process.env.KEY + '\\n'); process.exit(3); });`;
    const inner = cli('run', '--', process.execPath, '-e', child)
      .map((a) => `'${a.replaceAll("'", `'\\''`)}'`)
      .join(' ');
    const t = onTerminal(
      [
        'bash',
        '--norc',
        '--noprofile',
        '-c',
        `set -m; ${inner}; echo "stopped $?"; read _; fg; echo "fg $?"`,
      ],
      KEY_ENV,
    );
    await t.waitFor(/ready/);
    t.type('\x1a');
    await t.waitFor(/stopped 148/);
    // The first line is for bash's `read`; the second waits in the terminal for the resumed job.
    t.type('\nhello\n');
    await t.waitFor(/fg 3/);
    expect(await t.exited).toBe(0);
    expect(t.screen()).toContain(`read hello key=${CONCEALED}`);
  });
});
