// `secrets-engine logs` (issue 15 item 5) against `secrets-engine serve`: a launched plugin's own
// output, read from the file the engine gives it, with its lines' levels kept — in the engine's log
// and for --level — following new output, refusing unknown plugins and bad flags, readable after
// the engine stopped, and never letting a plugin drive the terminal.
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FIXTURE,
  noPty,
  runCli,
  type ServedEngine,
  serve,
  startCli,
  startCliOnPty,
  useCli,
  waitFor,
} from './__tests__/cli.js';

useCli();

// A plugin that fails before registering, every time: each attempt writes the same three lines
// (one an error with an indented trace, one with a terminal escape) and exits 3.
const CRASHER = `#!/bin/sh
echo "starting attempt"
echo "error: backend down" >&2
echo "    at connect (backend.js:1)" >&2
printf 'colour \\033[31mred\\033[0m\\n'
exit 3
`;

let engine: ServedEngine;
let stateDir: string;
beforeAll(async () => {
  engine = await serve({
    // Generous: on a loaded machine a plugin that is slow to register must not count as a failure.
    args: ['--registration-timeout', '30000'],
    prepare: (dir) => {
      writeFileSync(join(dir, 'crasher'), CRASHER);
      chmodSync(join(dir, 'crasher'), 0o755);
      // Fails its first start, then runs the fixture plugin under its own name.
      const real = join(dir, '..', 'real');
      mkdirSync(real);
      symlinkSync(FIXTURE, join(real, 'flaky'));
      writeFileSync(
        join(dir, 'flaky'),
        `#!/bin/sh\nif [ ! -e '${real}/failed' ]; then touch '${real}/failed'; echo 'error: first start fails' >&2; exit 3; fi\nexec '${real}/flaky'\n`,
      );
      chmodSync(join(dir, 'flaky'), 0o755);
    },
  });
  stateDir = `${engine.socket}.state`;
  await waitFor('the crasher to have run', () => /colour/.test(engine.proc.stderr()));
});
afterAll(async () => {
  const r = await engine.stop();
  expect(r.code).toBe(0);
});

const logs = (...args: string[]) => runCli(['logs', ...args, '--socket', engine.socket]);

describe('logs', () => {
  it("shows one plugin's output as it wrote it", async () => {
    const r = await logs('crasher', '-n', '4');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'starting attempt',
        'error: backend down',
        '    at connect (backend.js:1)',
        'colour \x1b[31mred\x1b[0m',
        '',
      ].join('\n'),
    );
    expect(r.stderr).toBe('');
  });

  it('prefixes each line with its plugin when showing several', async () => {
    const r = await logs('crasher', 'fixture', '-n', '2');
    expect(r.code).toBe(0);
    // The crasher's last two lines; the fixture plugin writes nothing.
    expect(r.stdout).toBe('crasher |     at connect (backend.js:1)\ncrasher | colour \x1b[31mred\x1b[0m\n');
  });

  it("keeps a plugin's error lines errors: in the engine's log and for --level", async () => {
    expect(engine.proc.stderr()).toMatch(/^\S+ ERROR error: backend down plugin=crasher stream=output$/m);
    expect(engine.proc.stderr()).toMatch(
      /^\S+ ERROR {5}at connect \(backend\.js:1\) plugin=crasher stream=output$/m,
    );
    expect(engine.proc.stderr()).toMatch(/^\S+ INFO {2}starting attempt plugin=crasher stream=output$/m);
    const r = await logs('crasher', '--level', 'error');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(new Set(lines)).toEqual(new Set(['error: backend down', '    at connect (backend.js:1)']));
  });

  it('--follow prints what the plugin writes next, and stops on SIGINT with 0', async () => {
    const proc = startCli(['logs', 'crasher', '-f', '-n', '0', '--socket', engine.socket]);
    // The engine restarts the crasher (backing off); its next attempt's lines arrive.
    await proc.waitFor(/^starting attempt$/m, 'stdout', 30_000);
    proc.child.kill('SIGINT');
    const r = await proc.exited;
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('starting attempt\n')).toBe(true);
  });

  it.skipIf(noPty !== undefined)(
    'on a terminal, control characters a plugin wrote are shown escaped',
    async () => {
      const r = await startCliOnPty(['logs', 'crasher', '-n', '1', '--socket', engine.socket]).exited;
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('colour \\x1b[31mred\\x1b[0m\r\n');
    },
  );
  it.runIf(noPty !== undefined)(`terminal escaping (not run: ${noPty})`, () => {
    throw new Error(`the terminal test cannot run here: ${noPty}`);
  });

  it('a plugin without a log file: exit 2, naming the plugins that have one', async () => {
    const r = await logs('fixtur');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `secrets-engine: no log file for plugin "fixtur" in ${stateDir}/logs: the engine writes one for each plugin it launches (plugins started by hand and builtin plugins log where they run); plugins with a log: crasher, fixture, flaky\n`,
    );
  });

  it('bad flags are usage errors', async () => {
    const tail = await logs('-n', 'ten');
    expect(tail.code).toBe(64);
    expect(tail.stderr).toMatch(
      /^secrets-engine: --tail must be a whole number of lines, got "ten"\nRun 'secrets-engine logs --help' for usage\.\n$/,
    );
    const level = await logs('--level', 'loud');
    expect(level.code).toBe(64);
    expect(level.stderr).toMatch(/--level must be one of error, warn, info, debug, got "loud"/);
    const both = await runCli(['logs', '--socket', engine.socket, '--state-dir', stateDir]);
    expect(both.code).toBe(64);
    expect(both.stderr).toMatch(/--state-dir and --socket both say where the logs are/);
    const name = await logs('a\u0007b');
    expect(name.code).toBe(64);
    expect(name.stderr).toMatch(/not a plugin name: .*control character/);
  });

  it('--state-dir reads the same files; a missing state folder says where it looked', async () => {
    const r = await runCli(['logs', 'crasher', '-n', '1', '--state-dir', stateDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('colour \x1b[31mred\x1b[0m\n');
    const none = await runCli(['logs', '--socket', join(engine.dir, 'other.sock')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(
      `secrets-engine: the state folder ${join(engine.dir, 'other.sock.state')} does not exist; is the engine started with another --socket or --state-dir?\n`,
    );
  });
});

describe('plugins (issue 15 item 5)', () => {
  it("lists a plugin that never registered with its last error, and a restarted one's last failure", async () => {
    await waitFor(
      'flaky to run again',
      async () => /^flaky .* running/m.test((await runCli(['plugins', '--socket', engine.socket])).stdout),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const r = await runCli(['plugins', '--json', '--socket', engine.socket]);
    const byName = new Map(
      (JSON.parse(r.stdout) as { name: string; status: string; message: string }[]).map((p) => [p.name, p]),
    );
    expect(byName.get('crasher')?.status).toMatch(/^(crashed|retries-exceeded)$/);
    expect(byName.get('crasher')?.message).toMatch(/^plugin exited before registering \(exit code 3\)/);
    expect(byName.get('flaky')?.status).toBe('running');
    expect(byName.get('flaky')?.message).toMatch(
      /^restarted 1 time; last failure at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: plugin exited before registering \(exit code 3\)$/,
    );
    expect(byName.get('fixture')).toMatchObject({ status: 'running', message: '' });
    const flaky = await logs('flaky');
    expect(flaky.stdout).toBe('error: first start fails\n');
  });
});

describe('logs after the engine stopped', () => {
  it('are still there, and serve --state-dir puts them where it is told', async () => {
    const other = await serve({
      args: ['--state-dir', join(engine.dir, 'elsewhere'), '--registration-timeout', '30000'],
      prepare: (dir) => {
        writeFileSync(join(dir, 'crasher'), CRASHER);
        chmodSync(join(dir, 'crasher'), 0o755);
      },
    });
    await waitFor('the crasher to have run', () => /colour/.test(other.proc.stderr()));
    expect((await other.stop()).code).toBe(0);
    const r = await runCli(['logs', 'crasher', '-n', '1', '--state-dir', join(engine.dir, 'elsewhere')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('colour \x1b[31mred\x1b[0m\n');
  });
});
