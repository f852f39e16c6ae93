// `secrets-engine serve` as a user runs it: the ready line, the log format, clean shutdown on
// SIGINT/SIGTERM (socket removed, no plugin left), a second signal during shutdown, and the errors
// that stop it from starting.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  expectNoStack,
  isAlive,
  recordedPids,
  runCli,
  serve,
  startExternalPlugin,
  tempDir,
  useCli,
  waitFor,
} from './__tests__/cli.js';

useCli();

const LOG_LINE = /^\d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO |WARN |ERROR) \S.*$/;

describe('serve', () => {
  it('serves until SIGINT, then stops every plugin, removes the socket and exits 0', async () => {
    const engine = await serve({ plugins: ['fixture'], args: ['--request-timeout', '5000'] });
    expect(engine.ready).toBe(`secrets-engine ready on ${engine.socket}; plugins started: fixture`);
    expect(existsSync(engine.socket)).toBe(true);
    const [pid] = recordedPids(engine.pidDir);
    expect(pid !== undefined && isAlive(pid)).toBe(true);

    const r = await engine.stop('SIGINT');
    expect(r.code).toBe(0);
    expect(r.signal).toBeNull();
    expect(existsSync(engine.socket)).toBe(false);
    expect(isAlive(pid!)).toBe(false);
    const lines = r.stderr.trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(LOG_LINE);
    expect(r.stderr).toMatch(/ INFO {2}engine listening socket=\S+engine\.sock$/m);
    expect(r.stderr).toMatch(
      / INFO {2}plugin registered plugin=fixture version=v1\.2\.3 pattern=fixture\/\*\* pid=\d+$/m,
    );
    expect(r.stderr).toMatch(/ INFO {2}shutting down signal=SIGINT$/m);
    expect(lines.at(-1)).toMatch(/ INFO {2}engine stopped$/);
    expectNoStack(r.stderr);
  });

  it('names the plugins that did not start in the ready line', async () => {
    const engine = await serve({ plugins: ['fixture'] });
    await engine.stop();
    // Same plugins folder plus a plugin that exits at once.
    const broken = join(engine.pluginsDir, 'broken');
    writeFileSync(broken, '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    const again = await serve({ reuse: engine });
    expect(again.ready).toMatch(/; plugins started: fixture; not running: broken \(crashed\)$/);
    expect((await again.stop('SIGTERM')).code).toBe(0);
  });

  it('SIGTERM stops it too; --log-level warn hides info lines; --no-external refuses plugins started by hand', async () => {
    const engine = await serve({ args: ['--log-level', 'warn', '--no-external'] });
    const byHand = startExternalPlugin(engine.socket, 'byhand', engine.pidDir);
    const joined = await byHand.exited;
    expect(joined.code).not.toBe(0);
    const ls = await runCli(['plugins', '--socket', engine.socket]);
    // Only the header: the launched fixture, no plugin started by hand.
    expect(ls.stdout).toMatch(/^NAME +VERSION +PATTERN +KIND +STATUS +MESSAGE\nfixture .+\n$/);
    const r = await engine.stop('SIGTERM');
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/ (INFO|DEBUG) /);
  });

  it('a second signal during shutdown exits at once with 130', async () => {
    // The plugin ignores SIGTERM and stays up after Shutdown: the engine's shutdown takes seconds.
    const engine = await serve({ pluginEnv: { FIXTURE_STUBBORN: '1' } });
    const [pid] = recordedPids(engine.pidDir);
    try {
      engine.proc.child.kill('SIGINT');
      await engine.proc.waitFor(/shutting down signal=SIGINT/, 'stderr');
      const started = Date.now();
      engine.proc.child.kill('SIGTERM');
      const r = await engine.proc.exited;
      expect(r.code).toBe(130);
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(r.stderr).toMatch(/^secrets-engine: SIGTERM during shutdown, exiting now$/m);
    } finally {
      // The stubborn plugin outlived its engine by design here: end it.
      if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
      await waitFor('the stubborn plugin to exit', () => pid === undefined || !isAlive(pid));
    }
  });

  it('--registration-timeout bounds how long a launched plugin has to register', async () => {
    const engine = await serve({
      plugins: ['silent'],
      args: ['--registration-timeout', '300'],
      // A plugin that never registers (it sleeps): it fails its registration after 300 ms.
      prepare: (dir) => {
        rmSync(join(dir, 'silent'));
        writeFileSync(join(dir, 'silent'), '#!/bin/sh\nexec sleep 60\n', { mode: 0o755 });
      },
    });
    expect(engine.ready).toContain('not running: silent');
    const ls = await runCli(['plugins', '--socket', engine.socket]);
    expect(ls.stdout).toContain('plugin registration timed out after 300 ms');
    expect((await engine.stop()).code).toBe(0);
  });

  it('refuses to start when another engine listens on the socket (exit 1, one line)', async () => {
    const engine = await serve({ plugins: [] });
    expect(engine.ready).toBe(`secrets-engine ready on ${engine.socket}; plugins started: none`);
    const second = await runCli(['serve', '--socket', engine.socket]);
    expect(second.code).toBe(1);
    expect(second.stdout).toBe('');
    expect(second.stderr).toBe(
      `secrets-engine: another secrets engine is already running on ${engine.socket}: it holds the lock ${engine.socket}.lock; stop it first or use --socket\n`,
    );
    expectNoStack(second.stderr);
    // The running engine is untouched; with no plugin, plugins prints the header only.
    const ls = await runCli(['plugins', '--socket', engine.socket]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toBe('NAME   VERSION   PATTERN   KIND   STATUS   MESSAGE\n');
    expect((await engine.stop()).code).toBe(0);
  });

  it('exits 1 when the plugins folder does not exist', async () => {
    const dir = tempDir();
    const r = await runCli(['serve', '--socket', join(dir, 'e.sock'), '--plugins-dir', join(dir, 'absent')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`secrets-engine: plugins folder ${join(dir, 'absent')} does not exist\n`);
  });

  it('exits 1 when the socket path cannot be used', async () => {
    const dir = tempDir();
    const file = join(dir, 'not-a-socket');
    writeFileSync(file, '');
    const r = await runCli(['serve', '--socket', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`secrets-engine: ${file} exists and is not a socket; refusing to replace it\n`);
    expectNoStack(r.stderr);
  });
});

describe('serve --access FILE (issue 11 item 4)', () => {
  it('rules decide who may call: a uid rule with a pattern opens only that pattern to it', async () => {
    const dir = tempDir();
    const rules = join(dir, 'access.json');
    const uid = process.getuid!();
    writeFileSync(rules, JSON.stringify({ rules: [{ uid, pattern: 'fixture/allowed/**' }] }));
    const engine = await serve({ args: ['--access', rules] });
    const denied = await runCli(['get', 'fixture/other', '--socket', engine.socket]);
    expect(denied.stderr).toContain(`access denied: no access rule allows uid ${uid}`);
    expect(denied.stderr).toContain('GetSecrets "fixture/other"');
    expect(denied.code).not.toBe(0);
    // The management calls are not opened by a rule with a pattern.
    expect((await runCli(['plugins', '--socket', engine.socket])).code).not.toBe(0);
    expect((await engine.stop('SIGTERM')).code).toBe(0);
  });

  it.each([
    ['{', /is not valid JSON/],
    ['[]', /: the file must be an object \{"rules": \[\.\.\.\]\}, got \[\]/],
    ['{"rules": [{"uid": "1000"}]}', /: rules\[0\]\.uid must be a whole number >= 0, got "1000"/],
    [
      '{"rules": [{"executable": "bin/x"}]}',
      /: rules\[0\]\.executable must be an absolute path, got "bin\/x"/,
    ],
    ['{"rules": [{"pattern": "a//b"}]}', /: rules\[0\]\.pattern must be a secret pattern/],
    ['{"rules": [{"user": "me"}]}', /: rules\[0\]\.user is not a rule field \(uid, executable, pattern\)/],
    ['{"rules": [{}]}', /: rules\[0\] opens everything to everyone/],
    ['{"rule": []}', /: "rule" is not a known field \(only "rules"\)/],
  ])('a bad rules file %s stops serve before it listens (exit 1, names the entry)', async (text, message) => {
    const dir = tempDir();
    const rules = join(dir, 'access.json');
    writeFileSync(rules, text);
    const r = await runCli(['serve', '--socket', join(dir, 'e.sock'), '--access', rules]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(rules);
    expect(existsSync(join(dir, 'e.sock'))).toBe(false);
    expectNoStack(r.stderr);
  });
});

describe('serve --audit-log FILE (issue 11 item 5)', () => {
  it('appends one record per call to a 0600 file; never a value', async () => {
    const { readFileSync, statSync } = await import('node:fs');
    const dir = tempDir();
    const log = join(dir, 'audit.log');
    const engine = await serve({ args: ['--audit-log', log] });
    const got = await runCli(['get', 'fixture/api-key', '--reveal', '--socket', engine.socket]);
    expect(got.code).toBe(0);
    expect((await engine.stop('SIGTERM')).code).toBe(0);
    expect(statSync(log).mode & 0o777).toBe(0o600);
    const records = readFileSync(log, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.find((r) => r.pattern === 'fixture/api-key')).toMatchObject({
      method: 'resolver.v1.ResolverService/GetSecrets',
      decision: 'allow',
      code: 'ok',
      caller: { uid: process.getuid!() },
    });
    expect(got.stdout).toContain('api-key-value'); // the caller got the value; the log did not
    expect(readFileSync(log, 'utf8')).not.toContain('api-key-value');
  });

  it('an audit log that cannot be used stops serve before it listens (exit 1, says why)', async () => {
    const { chmodSync } = await import('node:fs');
    const dir = tempDir();
    const log = join(dir, 'audit.log');
    writeFileSync(log, '');
    chmodSync(log, 0o644);
    const r = await runCli(['serve', '--socket', join(dir, 'e.sock'), '--audit-log', log]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`secrets-engine: audit log ${log} has mode 0644; it must be 0600 (chmod 600 it)\n`);
    expect(existsSync(join(dir, 'e.sock'))).toBe(false);
  });
});
