// `secrets-engine run` against `secrets-engine serve`: se://ID and se://PATTERN injection,
// all-or-nothing resolution naming every unresolved reference, masking of the values in the
// command's output, env files (and Node's own --env-file kept out), exit codes, and signal
// forwarding. On a terminal: run-terminal.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnCaptured } from '@secrets-engine/test-utils/process.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIN,
  NODE_BIN,
  PACKAGE_DIR,
  runCli,
  type ServedEngine,
  serve,
  useCli,
  waitFor,
} from './__tests__/cli.js';
import { CONCEALED } from './mask.js';

useCli();

let engine: ServedEngine;
beforeAll(async () => {
  engine = await serve();
});
afterAll(async () => {
  const r = await engine.stop();
  expect(r.code).toBe(0);
  expect(r.stderr).not.toContain('s3cr3t-db-pw');
});

const NODE = process.execPath;
const HAS_SETSID = spawnSync('setsid', ['true'], { stdio: 'ignore' }).status === 0;
/** A child that prints the named variables as JSON (null when unset). */
const printEnv = (...names: string[]) => [
  NODE,
  '-e',
  `process.stdout.write(JSON.stringify(Object.fromEntries(${JSON.stringify(names)}.map((n) => [n, process.env[n] ?? null]))))`,
];

describe.concurrent('run', () => {
  it('replaces every se://ID value with the secret and leaves other values alone', async () => {
    const r = await runCli(
      [
        'run',
        '--socket',
        engine.socket,
        '--no-masking',
        '--',
        ...printEnv('DB', 'KEY', 'KEY2', 'PLAIN', 'NEAR'),
      ],
      {
        env: {
          DB: 'se://fixture/db/password',
          KEY: 'se://fixture/api-key',
          KEY2: 'se://fixture/api-key',
          PLAIN: 'plain value',
          NEAR: 'prefix se://fixture/api-key',
        },
      },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      DB: 's3cr3t-db-pw',
      KEY: 'api-key-value',
      KEY2: 'api-key-value',
      PLAIN: 'plain value',
      NEAR: 'prefix se://fixture/api-key',
    });
  });

  it('finds the command without -- too', async () => {
    const r = await runCli(['run', '-s', engine.socket, '--no-masking', ...printEnv('KEY')], {
      env: { KEY: 'se://fixture/api-key' },
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ KEY: 'api-key-value' });
  });

  it('does not start the command and names every unresolved reference', async () => {
    const marker = join(engine.dir, 'started');
    const r = await runCli(
      [
        'run',
        '--socket',
        engine.socket,
        '--',
        NODE,
        '-e',
        `require('fs').writeFileSync(${JSON.stringify(marker)}, '')`,
      ],
      {
        env: {
          OK: 'se://fixture/api-key',
          MISSING: 'se://fixture/nope',
          ALSO_MISSING: 'se://other/thing',
          BAD: 'se://not valid!',
          WILDCARD: 'se://fixture/*',
          NONE: 'se://**/nope',
          ONE: 'se://fixture/**/password',
        },
      },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `secrets-engine: not starting ${NODE}: 5 unresolved secret references: ` +
        'ALSO_MISSING="se://other/thing" (not found), ' +
        'BAD="se://not valid!" (invalid reference: neither a secret ID nor a pattern), ' +
        'MISSING="se://fixture/nope" (not found), NONE="se://**/nope" (matches no secret), ' +
        'WILDCARD="se://fixture/*" (matches 2 secrets, a pattern must match one: fixture/api-key, fixture/greeting)\n',
    );
    expect(existsSync(marker)).toBe(false);
  });

  it('names every reference when the engine is not available', async () => {
    const socket = join(engine.dir, 'nobody-here.sock');
    const r = await runCli(['run', '--socket', socket, '--', 'true'], {
      env: { A: 'se://fixture/api-key', B: 'se://fixture/db/password' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'secrets-engine: not starting true: 2 unresolved secret references: ' +
        'A="se://fixture/api-key" (engine not available), B="se://fixture/db/password" (engine not available) ' +
        `[secrets engine is not available at ${socket}: no such socket (is the engine running?)]\n`,
    );
  });

  it('needs no engine when there is no reference', async () => {
    const r = await runCli(
      ['run', '--socket', join(engine.dir, 'nobody-here.sock'), '--', ...printEnv('PLAIN')],
      {
        env: { PLAIN: 'x' },
      },
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ PLAIN: 'x' });
  });

  it('reads env files in order: the environment, then each file, later files win', async () => {
    const first = join(engine.dir, 'first.env');
    const second = join(engine.dir, 'second.env');
    writeFileSync(
      first,
      '# comment\nA=from-first\nB=from-first\nSECRET=se://fixture/api-key\nQUOTED="two words"\n',
    );
    writeFileSync(second, 'B=from-second\nC=se://fixture/db/password\n');
    const r = await runCli(
      [
        'run',
        '--socket',
        engine.socket,
        '--env-file',
        first,
        '-e',
        second,
        '--no-masking',
        '--',
        ...printEnv('A', 'B', 'C', 'D', 'SECRET', 'QUOTED'),
      ],
      { env: { A: 'from-env', D: 'from-env' } },
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      A: 'from-first',
      B: 'from-second',
      C: 's3cr3t-db-pw',
      D: 'from-env',
      SECRET: 'api-key-value',
      QUOTED: 'two words',
    });
  });

  it('a pattern reference that matches exactly one secret is replaced by it', async () => {
    const r = await runCli(['run', '-s', engine.socket, '--no-masking', '--', ...printEnv('PW', 'KEY')], {
      env: { PW: 'se://fixture/**/password', KEY: 'se://*/api-key' },
    });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ PW: 's3cr3t-db-pw', KEY: 'api-key-value' });
  });

  it('exits 1 for a missing env file, with -e and with --env-file', async () => {
    const absent = join(engine.dir, 'absent.env');
    const runs = await Promise.all(
      ['-e', '--env-file'].map((flag) => runCli(['run', flag, absent, '--', 'true'])),
    );
    for (const r of runs) {
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`secrets-engine: env file ${absent} does not exist\n`);
    }
  });

  it('refuses an env file line it cannot read, naming the file and line and never the value', async () => {
    const cases: [string, string][] = [
      ['A=1\nexport B=2\nnot a line with-secret-text\n', 'line 3: not KEY=VALUE, a # comment or blank'],
      ['A=1\nB="never closed with-secret-text\nC=3\n', `line 2: the " quote of B's value is never closed`],
      ["A='x' with-secret-text\n", "line 1: text after the closing ' of A's value"],
    ];
    await Promise.all(
      cases.map(async ([text, problem], i) => {
        const file = join(engine.dir, `bad-${i}.env`);
        writeFileSync(file, text);
        const r = await runCli(['run', '-e', file, '--', 'true']);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`secrets-engine: env file ${file}, ${problem}`);
        expect(r.stderr).not.toContain('with-secret-text');
      }),
    );
  });

  it('reads multi-line quoted values, export, comments and CRLF as dotenv does', async () => {
    const file = join(engine.dir, 'rich.env');
    writeFileSync(file, 'export A=1\r\n# c\r\nB="two\nlines" # c\nC=plain # comment\nD=\'#not comment\'\n');
    const r = await runCli(['run', '-e', file, '--', ...printEnv('A', 'B', 'C', 'D')]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ A: '1', B: 'two\nlines', C: 'plain', D: '#not comment' });
  });

  it("exits with the command's exit code", async () => {
    for (const code of [0, 3, 42]) {
      const r = await runCli(['run', '--', 'sh', '-c', `exit ${code}`]);
      expect(r.code).toBe(code);
      expect(r.stderr).toBe('');
    }
  });

  it('exits 128+N when signal N killed the command', async () => {
    const r = await runCli(['run', '--', 'sh', '-c', 'kill -KILL $$']);
    expect(r.code).toBe(137);
  });

  it('exits 127 when the command does not exist, 126 when it cannot be executed', async () => {
    const notFound = await runCli(['run', '--', 'se-cli-no-such-command']);
    expect(notFound.code).toBe(127);
    expect(notFound.stderr).toBe('secrets-engine: command not found: se-cli-no-such-command\n');
    const file = join(engine.dir, 'not-executable');
    writeFileSync(file, 'echo hi\n', { mode: 0o644 });
    const denied = await runCli(['run', '--', file]);
    expect(denied.code).toBe(126);
    expect(denied.stderr).toBe(`secrets-engine: cannot execute ${file}: permission denied\n`);
  });

  it.runIf(existsSync('/proc/self/stat'))(
    "runs the command in the CLI's process group and session (it keeps the terminal)",
    async () => {
      // The shell prints the process group and session (fields 5 and 6 of /proc/<pid>/stat) of
      // itself and of its parent, the CLI.
      const r = await runCli([
        'run',
        '--',
        'sh',
        '-c',
        'echo "$(cut -d" " -f5,6 /proc/$$/stat) $(cut -d" " -f5,6 /proc/$PPID/stat)"',
      ]);
      const [pgid, sid, cliPgid, cliSid] = r.stdout.trim().split(' ').map(Number);
      expect([pgid, sid]).toEqual([cliPgid, cliSid]);
    },
  );
});

describe('run forwards signals to the command', () => {
  // The child reports the signal, then dies of it (default action), so the CLI exits 128+N.
  const child = (signal: string) =>
    signal === 'SIGUSR1'
      ? // Node starts its debugger on SIGUSR1 instead of dying of it: a shell child for this one.
        [
          'sh',
          '-c',
          `trap 'echo "child got ${signal}"; trap - USR1; kill -USR1 $$' USR1; echo "child ready"; while :; do sleep 1 & wait; done`,
        ]
      : [
          NODE,
          '-e',
          `process.on(${JSON.stringify(signal)}, () => {
       process.stdout.write('child got ${signal}\\n');
       process.removeAllListeners(${JSON.stringify(signal)});
       process.kill(process.pid, ${JSON.stringify(signal)});
     });
     process.stdout.write('child ready\\n');
     setTimeout(() => process.exit(99), 10_000);`,
        ];

  // In a new session (setsid): no controlling terminal even when the tests run on one, so every
  // signal is one sent to the CLI, never one the terminal sent to the whole group.
  const startDetached = (args: string[]) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    // Without setsid(1) (macOS), as the tests' own child: right where no terminal runs them (CI).
    return HAS_SETSID
      ? spawnCaptured('setsid', [NODE, ...NODE_BIN, ...args], { env, cwd: PACKAGE_DIR })
      : spawnCaptured(NODE, [...NODE_BIN, ...args], { env, cwd: PACKAGE_DIR });
  };

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
    ['SIGHUP', 129],
    ['SIGQUIT', 131],
    ['SIGUSR1', 138],
    ['SIGUSR2', 140],
  ] as const)('%s → the child gets it, the CLI exits %i', async (signal, code) => {
    const proc = startDetached(['run', '--', ...child(signal)]);
    await waitOutput(proc, /child ready/);
    proc.child.kill(signal);
    const r = await proc.closed;
    expect(r.stdout).toContain(`child got ${signal}`);
    expect(r.code).toBe(code);
    expect(r.stderr).toBe('');
  });

  it('SIGWINCH reaches the child', async () => {
    const proc = startDetached([
      'run',
      '--',
      NODE,
      '-e',
      `process.on('SIGWINCH', () => { process.stdout.write('child got SIGWINCH\\n'); process.exit(0); });
       process.stdout.write('child ready\\n'); setTimeout(() => process.exit(99), 10_000);`,
    ]);
    await waitOutput(proc, /child ready/);
    proc.child.kill('SIGWINCH');
    const r = await proc.closed;
    expect(r.stdout).toContain('child got SIGWINCH');
    expect(r.code).toBe(0);
  });

  it.runIf(HAS_SETSID)(
    'a child that made its own process group: the signal reaches the whole group',
    async () => {
      // setsid(1) makes the child a session and group leader; its own child (the grandchild) is in
      // that group and reports the signal it gets.
      const grandchild = `process.on('SIGTERM', () => { process.stdout.write('grandchild got SIGTERM\\n'); process.exit(0); });
      process.stdout.write('grandchild ready\\n'); setTimeout(() => process.exit(99), 10_000);`;
      const proc = startDetached([
        'run',
        '--',
        'setsid',
        'sh',
        '-c',
        `"$0" -e "$1" & wait`,
        NODE,
        grandchild,
      ]);
      await waitOutput(proc, /grandchild ready/);
      proc.child.kill('SIGTERM');
      const r = await proc.closed;
      expect(r.stdout).toContain('grandchild got SIGTERM');
      expect(r.code).toBe(143); // the shell died of it
    },
  );
});

async function waitOutput(proc: { stdout(): string }, pattern: RegExp): Promise<void> {
  await waitFor(`stdout to match ${pattern}`, () => pattern.test(proc.stdout()) || undefined, {
    timeoutMs: 15_000,
    intervalMs: 20,
  });
}

describe.concurrent('run masks the values in the output', () => {
  /** A child that writes `script`'s output; KEY and DB are references. */
  const masked = (script: string, flags: string[] = []) =>
    runCli(['run', '--socket', engine.socket, ...flags, '--', NODE, '-e', script], {
      env: { KEY: 'se://fixture/api-key', DB: 'se://fixture/db/password', PLAIN: 'plain-value' },
    });

  it('on stdout and stderr, with the exit code kept', async () => {
    const r = await masked(
      `console.log('key', process.env.KEY, 'db', process.env.DB, process.env.PLAIN);
       console.error('err', process.env.KEY + process.env.DB); process.exitCode = 5;`,
    );
    expect(r.code).toBe(5);
    expect(r.stdout).toBe(`key ${CONCEALED} db ${CONCEALED} plain-value\n`);
    expect(r.stderr).toBe(`err ${CONCEALED}${CONCEALED}\n`);
  });

  it('in base64 (standard and URL-safe), hex, URL and JSON forms', async () => {
    const r = await masked(
      `const v = Buffer.from(process.env.KEY);
       for (const e of ['base64', 'base64url', 'hex']) console.log(e, v.toString(e));
       console.log('hexup', v.toString('hex').toUpperCase());
       console.log('b64-inside', Buffer.concat([Buffer.from('x'), v, Buffer.from('yz')]).toString('base64'));
       console.log('url', encodeURIComponent(process.env.KEY));
       console.log('json', JSON.stringify({ k: process.env.KEY }));`,
    );
    expect(r.code).toBe(0);
    const raw = Buffer.from('api-key-value');
    for (const form of [
      raw.toString('base64'),
      raw.toString('hex'),
      'api-key-value',
      raw.toString('base64').slice(4, -4),
    ]) {
      expect(r.stdout).not.toContain(form);
    }
    for (const label of ['base64', 'base64url', 'hex', 'hexup', 'b64-inside', 'url', 'json'])
      expect(r.stdout).toMatch(new RegExp(`^${label} .*${CONCEALED.replace(/[<>]/g, '.')}`, 'm'));
  });

  it('split across writes, at every split point', async () => {
    const r = await masked(
      `const fs = require('fs'); const v = process.env.DB;
       for (let i = 1; i < v.length; i++) { fs.writeSync(1, '[' + v.slice(0, i)); fs.writeSync(1, v.slice(i) + ']'); }`,
    );
    expect(r.stdout).toBe(`[${CONCEALED}]`.repeat('s3cr3t-db-pw'.length - 1));
  });

  it('all of a large output arrives before the CLI exits', async () => {
    const r = await masked(
      `const line = 'x'.repeat(1000) + process.env.KEY + '\\n';
       let n = 0; const more = () => { while (n < 2000) { n++; if (!process.stdout.write(line)) return process.stdout.once('drain', more); } };
       more();`,
    );
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.length).toBe(2001);
    expect(lines.slice(0, 2000).every((l) => l === `${'x'.repeat(1000)}${CONCEALED}`)).toBe(true);
  });

  it('a reader that goes away ends the command as it would without masking (no hang)', async () => {
    // `yes` dies of SIGPIPE once head has gone: the CLI closes the command's pipe then.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    env.KEY = 'se://fixture/api-key';
    const r = await spawnCaptured(
      'sh',
      ['-c', '"$0" -- "$1" run --socket "$2" -- sh -c \'yes "$KEY"\' | head -2', NODE, BIN, engine.socket],
      { env, cwd: PACKAGE_DIR },
    ).closed;
    expect(r.stdout).toBe(`${CONCEALED}\n${CONCEALED}\n`);
  });

  it('--no-masking shows the values', async () => {
    const r = await masked('console.log(process.env.KEY)', ['--no-masking']);
    expect(r.stdout).toBe('api-key-value\n');
  });
});

describe("run --env-file is ours, not Node's (nodejs/node#54232)", () => {
  // An env file that would run code inside any Node.js process that loads it.
  const setup = () => {
    const dir = engine.dir;
    const marker = join(dir, 'node-options-ran');
    const hook = join(dir, 'hook.cjs');
    writeFileSync(
      hook,
      `require('fs').appendFileSync(${JSON.stringify(marker)}, process.argv.join(' ') + '\\n');`,
    );
    const file = join(dir, 'hostile.env');
    writeFileSync(file, `NODE_OPTIONS="--require ${hook}"\nFOO=from-file\n`);
    return { marker, file };
  };
  const env = () => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'NODE_OPTIONS') out[k] = v;
    return out;
  };

  it.each([
    ['the executable itself', (args: string[]) => [BIN, args] as const],
    ["sh bin.js (how pnpm's bin shims run it)", (args: string[]) => ['sh', [BIN, ...args]] as const],
  ])('through %s: the file goes to the command only; a missing file is our error', async (_, how) => {
    const { marker, file } = setup();
    const [command, argv] = how(['run', '--env-file', file, '--', 'sh', '-c', 'echo "FOO=$FOO"']);
    const r = await spawnCaptured(command, [...argv], { env: env(), cwd: PACKAGE_DIR }).closed;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('FOO=from-file\n');
    expect(existsSync(marker)).toBe(false); // nothing from the file ran in the CLI
    const absent = join(engine.dir, 'absent.env');
    const [c2, a2] = how(['run', '--env-file', absent, '--', 'true']);
    const missing = await spawnCaptured(c2, [...a2], { env: env(), cwd: PACKAGE_DIR }).closed;
    expect(missing.code).toBe(1); // not Node's 9
    expect(missing.stderr).toBe(`secrets-engine: env file ${absent} does not exist\n`);
  });

  it.runIf(existsSync('/proc/self/cmdline'))(
    'started as `node bin.js run --env-file F`, Node read F itself: refused, nothing started',
    async () => {
      const { file } = setup();
      const started = join(engine.dir, 'started-anyway');
      // The script by its absolute and by a relative path; the flag among run's and the command's.
      const argvs = [
        [BIN, 'run', '--env-file', file, '--', 'sh', '-c', `touch ${started}`],
        ['bundle/bin.js', 'run', `--env-file=${file}`, '--', 'sh', '-c', `touch ${started}`],
        ['bundle/bin.js', 'run', 'sh', '-c', `touch ${started}`, '--env-file', file],
      ];
      const runs = await Promise.all(
        argvs.map((argv) => spawnCaptured(NODE, argv, { env: env(), cwd: PACKAGE_DIR }).closed),
      );
      for (const r of runs) {
        expect(r.code).toBe(1);
        expect(r.stderr).toContain('secrets-engine: Node.js itself read the --env-file into this process');
      }
      expect(existsSync(started)).toBe(false);
    },
  );
});

describe('run: exact answers and failed providers (docs/security.md)', () => {
  let odd: ServedEngine;
  beforeAll(async () => {
    odd = await serve({
      plugins: ['fixture', 'liar', 'broken'],
      pluginEnv: { FIXTURE_LIAR: 'liar', FIXTURE_FAIL: 'broken' },
    });
  });
  afterAll(async () => {
    const r = await odd.stop();
    expect(r.code).toBe(0);
    for (const value of ['s3cr3t-db-pw', 'api-key-value', 'hello world'])
      expect(r.stderr).not.toContain(value);
  });

  it('a reference no plugin has exactly is unresolved, even when a plugin answers other secrets', async () => {
    const r = await runCli(['run', '--socket', odd.socket, '--', ...printEnv('A')], {
      env: { A: 'se://fixture/does-not-exist' },
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    for (const value of ['s3cr3t-db-pw', 'api-key-value', 'hello world'])
      expect(r.stderr).not.toContain(value);
    // The broken plugin overlaps too: the reason is its failure, never "not found".
    expect(r.stderr).toContain('A="se://fixture/does-not-exist" (provider "broken" failed (internal:');
    expect(r.stderr).not.toContain('not found');
  });

  it('a pattern reference is refused when a provider failed: it may hold another match', async () => {
    const r = await runCli(['run', '--socket', odd.socket, '--', ...printEnv('A')], {
      env: { A: 'se://fixture/**/password' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('A="se://fixture/**/password" (provider "broken" failed (internal:');
    expect(r.stderr).toContain('it may hold a match, so the match is not known to be the only one');
    expect(r.stderr).not.toContain('s3cr3t-db-pw');
  });

  it('an exact match is used even though another plugin failed', async () => {
    const r = await runCli(['run', '--socket', odd.socket, '--no-masking', '--', ...printEnv('A')], {
      env: { A: 'se://fixture/api-key' },
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ A: 'api-key-value' });
  });
});
