// `secrets-engine run` against `secrets-engine serve`: se://ID injection, all-or-nothing resolution
// naming every unresolved reference, env-file precedence, exit codes, and signal forwarding to the
// command's own process group.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type ServedEngine, serve, startCli, useCli } from './__tests__/cli.js';

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
/** A child that prints the named variables as JSON (null when unset). */
const printEnv = (...names: string[]) => [
  NODE,
  '-e',
  `process.stdout.write(JSON.stringify(Object.fromEntries(${JSON.stringify(names)}.map((n) => [n, process.env[n] ?? null]))))`,
];

describe.concurrent('run', () => {
  it('replaces every se://ID value with the secret and leaves other values alone', async () => {
    const r = await runCli(
      ['run', '--socket', engine.socket, '--', ...printEnv('DB', 'KEY', 'KEY2', 'PLAIN', 'NEAR')],
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
    const r = await runCli(['run', '-s', engine.socket, ...printEnv('KEY')], {
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
        },
      },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `secrets-engine: not starting ${NODE}: 4 unresolved secret references: ` +
        'ALSO_MISSING="se://other/thing" (not found), BAD="se://not valid!" (invalid ID), ' +
        'MISSING="se://fixture/nope" (not found), WILDCARD="se://fixture/*" (invalid ID)\n',
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

  it('exits 1 for a missing env file', async () => {
    const absent = join(engine.dir, 'absent.env');
    const r = await runCli(['run', '-e', absent, '--', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`secrets-engine: env file ${absent} does not exist\n`);
    // Node itself checks a script argument spelled --env-file and exits 9 before the CLI runs
    // (nodejs/node#54232); either way the command does not start and the file is named.
    const long = await runCli(['run', '--env-file', absent, '--', 'true']);
    expect([1, 9]).toContain(long.code);
    expect(long.stderr).toContain(absent);
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

  it.runIf(existsSync('/proc/self/stat'))('runs the command in its own process group', async () => {
    // The shell prints its pid and its process group id (field 5 of /proc/<pid>/stat).
    const r = await runCli(['run', '--', 'sh', '-c', 'echo "$$ $(cut -d" " -f5 /proc/$$/stat)"']);
    const [pid, pgid] = r.stdout.trim().split(' ').map(Number);
    expect(pgid).toBe(pid);
  });
});

describe('run forwards signals to the command', () => {
  // The child reports the signal, then dies of it (default action), so the CLI exits 128+N.
  const child = (signal: string) => [
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

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
    ['SIGHUP', 129],
  ] as const)('%s → the child gets it, the CLI exits %i', async (signal, code) => {
    const proc = startCli(['run', '--', ...child(signal)]);
    await proc.waitFor(/child ready/);
    proc.child.kill(signal);
    const r = await proc.exited;
    expect(r.stdout).toContain(`child got ${signal}`);
    expect(r.code).toBe(code);
    expect(r.stderr).toBe('');
  });
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

  it('an exact match is used even though another plugin failed', async () => {
    const r = await runCli(['run', '--socket', odd.socket, '--', ...printEnv('A')], {
      env: { A: 'se://fixture/api-key' },
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ A: 'api-key-value' });
  });
});
