// No signal, option or environment opens a debugger in our processes (issue 12 item 1): SIGUSR1
// would otherwise start Node's inspector on 127.0.0.1:9229 and let any local user run code in the
// engine. Checked on the real `serve` process: no TCP listener of its own appears.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runCli, serve, useCli } from './__tests__/cli.js';

useCli();

/** The TCP ports `pid` listens on (Linux: its socket inodes matched against /proc/net/tcp{,6}). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9]!))
        ports.push(Number.parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

describe.skipIf(process.platform !== 'linux')('no debugger, ever', () => {
  it('SIGUSR1 to serve opens no port (Node would start its inspector on 9229) and serve keeps serving', async () => {
    const engine = await serve();
    const pid = engine.proc.child.pid!;
    expect(listeningPorts(pid)).toEqual([]);
    process.kill(pid, 'SIGUSR1');
    await sleep(500);
    expect(listeningPorts(pid)).toEqual([]);
    expect((await runCli(['plugins', '--socket', engine.socket])).code).toBe(0);
    const r = await engine.stop('SIGTERM');
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('Debugger listening');
  });

  it('a debugger opened by NODE_OPTIONS=--inspect is closed and the command refuses to run', async () => {
    const r = await runCli(['version'], { env: { NODE_OPTIONS: '--inspect=127.0.0.1:0' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('secrets-engine: refusing to run with a debugger open');
  });
});
