// The TypeScript end of the frame-level checks: launches go/bin/yamux-peer with launchPlugin()
// (a socketpair on the child's fd 3 and DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG, protocol.md §1.2),
// runs OUR createMuxSession over our end, serves a small HTTP API on the streams Go opens, and
// drives the Go side through JSON lines on a unix socket.
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createMuxSession,
  launchPlugin,
  type MuxSession,
  type MuxSessionInit,
  type MuxStream,
} from '@secrets-engine/ipc';
import { sleep } from '@secrets-engine/test-utils/process.js';
import { YAMUX_PEER_BIN } from './paths.js';

export type Role = 'server' | 'client';

export interface PeerOptions {
  /** Our yamux role; the Go peer takes the other. Docker's roles: we are the engine ('server'). */
  role: Role;
  /** Flags for yamux-peer: -stream-open-timeout, -stream-close-timeout, -keepalive-interval, -accept-delay. */
  goFlags?: string[];
  /** Options of our session besides the role. */
  session?: Omit<MuxSessionInit, 'role'>;
}

export interface Hello {
  pid: number;
  goVersion: string;
  modules: Record<string, string>;
  role: string;
  launchRaw: string;
  launch: { name: string; timeoutNs: number; timeout: string; fd: number };
  config: Record<string, string | number>;
}

/** Counters of one direction of the Go-side wire tap (go/internal/wire). */
export interface DirStats {
  frames: number;
  bytes: number;
  badVersion: number;
  data: number;
  dataBytes: number;
  maxDataFrame: number;
  windowUpdates: number;
  windowDelta: number;
  maxWindowDelta: number;
  syn: number;
  ack: number;
  fin: number;
  rst: number;
  synOddIds: number;
  synEvenIds: number;
  pingSyn: number;
  pingAck: number;
  pingIds: number[];
  goAwayCodes: number[];
  firstBytes: string;
}

export interface PeerStats {
  /** `in`: frames we sent (as Go read them); `out`: frames Go sent. */
  frames: {
    in: DirStats;
    out: DirStats;
    ackDelaysMs: number[];
    resetStreams: number[];
    maxPendingPeerSyns: number;
  };
  /** Every line hashicorp/yamux logged (Docker logs each at error level). */
  log: string[];
  numStreams: number;
  isClosed: boolean;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

type Event = Record<string, unknown> & { event: string };

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Byte i of every RAW `source` stream (as in yamux-peer). */
export const patternBytes = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) % 251;
  return b;
};

export { sleep };

export class GoPeer {
  readonly session: MuxSession;
  readonly child: ChildProcess;
  hello!: Hello;
  /** Requests our HTTP server has received, by path (counted when the head arrives). */
  readonly received = new Map<string, number>();
  #dir: string;
  #control: Server;
  #conn: Socket | undefined;
  #nextId = 1;
  #pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  #events: Event[] = [];
  #waiters: Array<() => void> = [];
  #stderr = '';
  #exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(options: PeerOptions, dir: string, control: Server) {
    this.#dir = dir;
    this.#control = control;
    const goRole: Role = options.role === 'server' ? 'client' : 'server';
    const launched = launchPlugin({
      command: YAMUX_PEER_BIN,
      args: ['-control', join(dir, 'ctl.sock'), '-role', goRole, ...(options.goFlags ?? [])],
      name: 'yamux-peer',
      registrationTimeoutMs: 5_000,
      env: {},
      output: 'pipe',
    });
    this.child = launched.child;
    this.child.stdout?.resume();
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      if (this.#stderr.length < 64 * 1024) this.#stderr += chunk;
    });
    this.#exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.session = createMuxSession(launched.socket, { role: options.role, ...(options.session ?? {}) });
    const http = createHttpServer((req, res) => void this.#serve(req, res));
    http.keepAliveTimeout = 5_000;
    http.requestTimeout = 0;
    http.on('clientError', (_err, socket) => socket.destroy());
    this.session.onStream((stream) => http.emit('connection', stream));
  }

  static async start(options: PeerOptions): Promise<GoPeer> {
    const dir = mkdtempSync(join(tmpdir(), 'go-peer-'));
    const control = createServer();
    await new Promise<void>((resolve, reject) => {
      control.once('error', reject);
      control.listen(join(dir, 'ctl.sock'), resolve);
    });
    const peer = new GoPeer(options, dir, control);
    try {
      await peer.#connect();
      peer.hello = (await peer.waitEvent((e) => e.event === 'hello', 10_000)) as unknown as Hello;
    } catch (err) {
      await peer.dispose();
      throw err;
    }
    return peer;
  }

  /** What the Go process wrote on stderr (yamux log lines, panics). */
  get stderr(): string {
    return this.#stderr;
  }

  #connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`yamux-peer did not connect to its control socket:\n${this.#stderr}`)),
        10_000,
      );
      this.#exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`yamux-peer exited early (${code ?? signal}):\n${this.#stderr}`));
      });
      this.#control.once('connection', (conn: Socket) => {
        clearTimeout(timer);
        this.#conn = conn;
        let buffered = '';
        conn.setEncoding('utf8');
        conn.on('data', (chunk: string) => {
          buffered += chunk;
          for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if (line !== '') this.#onLine(JSON.parse(line) as Record<string, unknown>);
          }
        });
        conn.on('error', () => {});
        resolve();
      });
    });
  }

  #onLine(msg: Record<string, unknown>): void {
    if (typeof msg.id === 'number') {
      const pending = this.#pending.get(msg.id);
      this.#pending.delete(msg.id);
      if (pending === undefined) return;
      if (msg.ok === true) pending.resolve(msg);
      else pending.reject(new Error(`yamux-peer: ${String(msg.error)}`));
      return;
    }
    this.#events.push(msg as Event);
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Sends a command to the Go peer and waits for its answer (rejects if it reports an error). */
  call<T = Record<string, unknown>>(
    cmd: string,
    args: Record<string, unknown> = {},
    timeoutMs = 30_000,
  ): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`yamux-peer: no answer to ${cmd} in ${timeoutMs} ms\n${this.#stderr}`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#conn!.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    });
  }

  /** Resolves with the first event (past or future) that matches. */
  async waitEvent(match: (e: Event) => boolean, timeoutMs = 10_000): Promise<Event> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.#events.find(match);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`yamux-peer: no matching event in ${timeoutMs} ms\n${this.#stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  stats(): Promise<PeerStats> {
    return this.call<PeerStats>('stats');
  }

  /** One HTTP/1.1 request on a new stream of ours (`Connection: close`, like Go's clients). */
  request(path: string, options: { method?: string; body?: Uint8Array } = {}): Promise<HttpResult> {
    const body = options.body;
    return new Promise<HttpResult>((resolve, reject) => {
      try {
        const req = request(
          {
            method: options.method ?? (body === undefined ? 'GET' : 'POST'),
            path,
            headers: {
              host: 'unix',
              connection: 'close',
              ...(body === undefined ? {} : { 'content-length': String(body.byteLength) }),
            },
            createConnection: () => this.session.open({ allowHalfOpen: false }) as never,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
            );
          },
        );
        req.on('error', reject);
        req.end(body === undefined ? undefined : Buffer.from(body));
      } catch (err) {
        reject(err);
      }
    });
  }

  /** Opens a stream that bypasses HTTP on the Go side: `RAW <kind> <tag> [n]`. */
  openRaw(line: string): MuxStream {
    const stream = this.session.open();
    stream.write(`RAW ${line}\n`);
    return stream;
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://unix');
    this.received.set(url.pathname, (this.received.get(url.pathname) ?? 0) + 1);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return;
    }
    const body = Buffer.concat(chunks);
    const ms = Number(url.searchParams.get('ms') ?? 0);
    if (ms > 0) await sleep(ms);
    switch (url.pathname) {
      case '/health':
        res.end('ok');
        return;
      case '/echo':
        res.setHeader('content-length', body.length);
        res.end(body);
        return;
      case '/slow':
        res.end('slow-done');
        return;
      case '/sha':
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ sha256: sha256(body), bytes: body.length }));
        return;
      case '/blob': {
        const blob = randomBytes(Number(url.searchParams.get('size') ?? 0));
        res.setHeader('x-sha256', sha256(blob));
        res.setHeader('content-length', blob.length);
        res.end(blob);
        return;
      }
      default:
        res.statusCode = 404;
        res.end('404 page not found\n');
    }
  }

  /** Ends the Go process (it exits when the control channel closes) and our session. */
  async dispose(): Promise<void> {
    this.#conn?.end();
    this.session.abort();
    const exited = await Promise.race([this.#exited, sleep(3_000).then(() => undefined)]);
    if (exited === undefined && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.#exited;
    }
    await new Promise<void>((resolve) => this.#control.close(() => resolve()));
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Lines of hashicorp's log other than the `allowed` ones. */
export function unexpectedLog(stats: PeerStats, allowed: RegExp[] = []): string[] {
  return stats.log.filter((line) => !allowed.some((re) => re.test(line)));
}
