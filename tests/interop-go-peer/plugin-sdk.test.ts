// Part A: our plugin SDK under a Go engine. go/cmd/go-engine is an engine of our own written on
// Docker's stack (hashicorp/yamux v0.1.2 server with DefaultConfig, net/http on the session,
// connect-go clients over http.Client{DisableKeepAlives, DialContext: session.Open}, base URL
// http://unix; protocol.md §2). It runs fixtures/sdk-plugin.mjs launched (§1.2, §1.3) and by hand
// through /hijack (§3.2, §3.3), drives it through registration (§5.1), GetSecrets, Shutdown and the
// §2.4 teardown (§7.1), and prints a JSON report that this test checks.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HIJACK_REQUEST } from '@secrets-engine/ipc/internal';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { GO_ENGINE_BIN, PLUGIN_FIXTURE } from './support/paths.js';

interface Step {
  name: string;
  ok: boolean;
  ms: number;
  detail?: unknown;
  error?: string;
}

interface Report {
  mode: string;
  name: string;
  goVersion: string;
  modules: Record<string, string>;
  launchEnv?: string;
  hijack?: {
    rawRequest: string;
    method: string;
    path: string;
    host: string;
    response: string;
    goSerializer: string;
    bufferedAfterRequest: number;
  };
  registration: {
    name: string;
    version: string;
    pattern: string;
    host: string;
    proto: string;
    contentType: string;
    connectProtocolVersion: string;
    connectionClose: boolean;
  };
  steps: Step[];
  yamuxLog: string[];
  frames: {
    in: { syn: number; synEvenIds: number; rst: number; goAwayCodes: number[]; badVersion: number };
    out: { syn: number; synOddIds: number; rst: number; goAwayCodes: number[]; badVersion: number };
  };
  plugin: { exitCode: number; signal?: string; exitedOnItsOwn: boolean; exitMs: number; stderr: string };
  ok: boolean;
  totalMs: number;
}

function runEngine(args: string[]): Promise<{ report: Report; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(GO_ENGINE_BIN, args, { timeout: 45_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null && stdout === '') {
        reject(new Error(`go-engine failed: ${err.message}\n${stderr}`));
        return;
      }
      try {
        resolve({ report: JSON.parse(stdout) as Report, stderr });
      } catch {
        reject(new Error(`go-engine printed no report:\n${stdout}\n${stderr}`));
      }
    });
  });
}

const failed = (report: Report) =>
  report.steps.filter((s) => !s.ok).map((s) => `${s.name}: ${s.error ?? ''}`);

const STEPS = [
  'register',
  'GetSecrets <name>/**',
  'GetSecrets exact id',
  'GetSecrets not_found',
  'GetSecrets invalid pattern',
  'GetSecrets 1 MiB value',
  'GetSecrets x64 concurrent',
  'health',
  'unknown route is unimplemented',
  'ping',
  'shutdown',
  'ipc close (GoAway, drain, close)',
  'serve returned',
  'frames',
  'plugin exits 0 on its own',
];

describe('our plugin SDK under a Go engine (hashicorp/yamux v0.1.2, connect-go)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'go-engine-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function expectFullLifecycle(report: Report, name: string, mode: 'launched' | 'external') {
    expect(failed(report)).toEqual([]);
    expect(report.steps.map((s) => s.name)).toEqual(STEPS.map((s) => s.replace('<name>', name)));
    expect(report.ok).toBe(true);
    // §5.1: the plugin registers over plugins.v1 with its name, version and pattern.
    expect(report.registration).toMatchObject({
      name,
      version: 'v1.2.3',
      pattern: `${name}/**`,
      // §2.3: HTTP/1.1, Host unix, Connect unary with binary proto, one stream per call.
      host: 'unix',
      proto: 'HTTP/1.1',
      contentType: 'application/proto',
      connectProtocolVersion: '1',
      connectionClose: true,
    });
    // §2.1: the plugin is the yamux client (odd ids), the engine the server (even ids).
    expect(report.frames.in.syn).toBeGreaterThan(0);
    expect(report.frames.in.synEvenIds).toBe(0);
    expect(report.frames.out.synOddIds).toBe(0);
    expect(report.frames.in.rst + report.frames.out.rst).toBe(0);
    expect([...report.frames.in.goAwayCodes, ...report.frames.out.goAwayCodes].every((c) => c === 0)).toBe(
      true,
    );
    // hashicorp logs nothing: no frame it had to discard, no protocol error (§2.2).
    expect(report.yamuxLog).toEqual([]);
    // §7.1: Shutdown → the plugin closes its session and its process exits 0 without a signal.
    expect(report.plugin).toMatchObject({ exitCode: 0, exitedOnItsOwn: true });
    expect(report.plugin.signal).toBeUndefined();
    expect(report.plugin.stderr).toContain(`fixture plugin stopped: shutdown (${mode})`);
  }

  /** Runs our fixture plugin under go-engine in `mode` and prints the report's steps. */
  async function runPlugin(mode: 'launched' | 'external', name: string, args: string[] = []) {
    const { report, stderr } = await runEngine([
      '-mode',
      mode,
      ...args,
      '-node',
      process.execPath,
      '-plugin',
      PLUGIN_FIXTURE,
      '-name',
      name,
    ]);
    console.log(summary(report));
    if (!report.ok) console.log(stderr);
    return report;
  }

  it('launched: socketpair on fd 3, the launch variable only, register → GetSecrets → Shutdown → exit 0', async () => {
    const name = 'go-launched';
    const report = await runPlugin('launched', name);
    // §1.3: compact Go JSON, timeout in nanoseconds, fd 3.
    expect(report.launchEnv).toBe('{"name":"go-launched","timeout":5000000000,"fd":3}');
    expectFullLifecycle(report, name, 'launched');
  });

  it('external: /hijack answered with Go’s `HTTP/0.0 101`, then the same lifecycle over that connection', async () => {
    const name = 'go-external';
    const report = await runPlugin('external', name, ['-socket', join(dir, 'engine.sock')]);
    // §3.2: the SDK writes exactly Go's request; §3.3: the engine's bytes are Go's own serialisation.
    expect(report.hijack?.rawRequest).toBe(HIJACK_REQUEST);
    expect(report.hijack?.response).toBe(
      'HTTP/0.0 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: tcp\r\n\r\n',
    );
    expect(report.hijack?.response).toBe(report.hijack?.goSerializer);
    expect(report.hijack?.bufferedAfterRequest).toBe(0);
    expectFullLifecycle(report, name, 'external');
  });

  it('reports the Go toolchain and module versions', async () => {
    const { report } = await runEngine(['-mode', 'none']);
    expect(report.modules).toMatchObject({ 'github.com/hashicorp/yamux': 'v0.1.2' });
    console.log(
      `${inject('goVersion')} (build ${inject('goBuildMs')} ms); ${Object.entries(report.modules)
        .map(([m, v]) => `${m} ${v}`)
        .join(', ')}`,
    );
  });
});

function summary(report: Report): string {
  const lines = report.steps.map((s) => `  ${s.ok ? 'ok  ' : 'FAIL'} ${s.name} (${s.ms.toFixed(1)} ms)`);
  return `go-engine ${report.mode} (${report.totalMs} ms, ${report.goVersion}):\n${lines.join('\n')}`;
}
