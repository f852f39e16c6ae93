// Test helpers of @secrets-engine/runtime (never exported): temporary directories, real Unix
// socket pairs, a logger that records everything, Connect clients of the engine socket, and an
// in-process external plugin that joins an engine through /hijack with the ipc pieces directly.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { type Client, createClient, type HandlerContext } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import {
  createMuxSession,
  createSessionTransport,
  dialAndUpgrade,
  type Logger,
  type MuxSession,
  serveConnect,
} from '@secrets-engine/ipc';
import { healthv1, pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { onTestFinished } from 'vitest';
import type { BuiltinPlugin } from '../engine.js';

export type ProtoEnvelope = resolverv1.GetSecretsResponse_Envelope;

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A temporary directory removed when the current test finishes. */
export function tempDir(prefix = 'se-rt-'): string {
  const path = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

/** A fresh socket path in a temporary directory (removed after the test). */
export function tempSocketPath(): string {
  return join(tempDir(), 'engine.sock');
}

/** Two connected AF_UNIX stream sockets (through a listener on a temporary path). */
export async function socketPair(): Promise<[client: Socket, server: Socket]> {
  const dir = mkdtempSync(join(tmpdir(), 'se-rt-pair-'));
  const path = join(dir, 's.sock');
  const server = createServer();
  try {
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const client = connect(path);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    return [client, await accepted];
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves when `fn` returns true, polling; rejects after `timeoutMs`. */
export async function waitFor(fn: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!fn()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  /** The call's attributes merged over every child() attribute. */
  attributes: Record<string, unknown>;
}

export interface CapturingLogger extends Logger {
  readonly entries: LogEntry[];
  /** Every entry as one string per line (message + JSON attributes), for substring checks. */
  lines(): string[];
}

/** A logger that records every call, including those made through child loggers. */
export function captureLogger(): CapturingLogger {
  const entries: LogEntry[] = [];
  const make = (base: Record<string, unknown>): Logger => {
    const at =
      (level: LogEntry['level']) =>
      (message: string, attributes?: Record<string, unknown>): void => {
        entries.push({ level, message, attributes: { ...base, ...attributes } });
      };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (attributes) => make({ ...base, ...attributes }),
    };
  };
  return Object.assign(make({}), {
    entries,
    lines: () =>
      entries.map(
        (e) =>
          `${e.level} ${e.message} ${JSON.stringify(e.attributes, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`,
      ),
  });
}

/** A builtin plugin with a fixed name, pattern and behaviour. */
export function builtin(
  name: string,
  pattern: string,
  getSecrets: BuiltinPlugin['getSecrets'],
  version = 'v1.0.0',
): BuiltinPlugin {
  return { name, version, pattern, getSecrets };
}

/** Connect clients of an engine socket, over HTTP/1.1 with a counting keep-alive agent. */
export function engineClients(socketPath: string) {
  let connections = 0;
  const agent = new (class extends Agent {
    override createConnection(...args: Parameters<Agent['createConnection']>) {
      connections++;
      // biome-ignore lint/suspicious/noExplicitAny: node's Agent typings omit createConnection
      return (Agent.prototype as any).createConnection.apply(this, args);
    }
  })({ keepAlive: true });
  onTestFinished(() => agent.destroy());
  const transport = createConnectTransport({
    httpVersion: '1.1',
    baseUrl: 'http://unix',
    nodeOptions: { socketPath, agent },
  });
  return {
    resolver: createClient(resolverv1.ResolverService, transport),
    management: createClient(pluginsv1.PluginManagementService, transport),
    oldList: createClient(resolverv1.ListService, transport),
    version: createClient(healthv1.VersionService, transport),
    /** TCP-level connections the agent opened so far. */
    connections: () => connections,
  };
}

export interface FakePluginOptions {
  /** Answers GetSecrets. Default: one envelope whose id is the pattern with globs replaced. */
  getSecrets?: (pattern: string, ctx: HandlerContext) => ProtoEnvelope[] | Promise<ProtoEnvelope[]>;
  /** Dial timeout of the upgrade. */
  timeoutMs?: number;
}

/** An external plugin joined through /hijack, written with the ipc pieces only. */
export interface FakePlugin {
  readonly session: MuxSession;
  /** Patterns the engine asked for, in order. */
  readonly calls: string[];
  /** Shutdown RPCs received, by schema. */
  readonly shutdowns: { 'plugins.v1': number; 'resolver.v1': number };
  register(
    request: { name: string; version?: string; pattern?: string },
    protocol?: 'plugins.v1' | 'resolver.v1',
  ): Promise<{ engineName: string; engineVersion: string }>;
  close(): Promise<void>;
}

export async function joinEngine(socketPath: string, options: FakePluginOptions = {}): Promise<FakePlugin> {
  const socket = await dialAndUpgrade(socketPath, { timeoutMs: options.timeoutMs ?? 2_000 });
  const session = createMuxSession(socket, { role: 'client' });
  onTestFinished(() => session.abort());
  const calls: string[] = [];
  const shutdowns = { 'plugins.v1': 0, 'resolver.v1': 0 };
  const shutdown = (which: keyof typeof shutdowns) => () => {
    shutdowns[which]++;
    setImmediate(() => void session.close({ timeoutMs: 500 }));
    return {};
  };
  serveConnect(session, {
    routes: (router) => {
      router.service(pluginsv1.PluginService, { shutdown: shutdown('plugins.v1') });
      router.service(resolverv1.PluginService, { shutdown: shutdown('resolver.v1') });
      router.service(resolverv1.ResolverService, {
        getSecrets: async (req, ctx) => {
          calls.push(req.pattern);
          const envelopes = options.getSecrets
            ? await options.getSecrets(req.pattern, ctx)
            : [envelope(req.pattern.replace(/\*\*?/g, 'x'), `value-of-${req.pattern}`)];
          return create(resolverv1.GetSecretsResponseSchema, { envelopes });
        },
      });
    },
  });
  const transport = createSessionTransport(session);
  const heads: Client<typeof pluginsv1.RegisterService> = createClient(pluginsv1.RegisterService, transport);
  const old: Client<typeof resolverv1.RegisterService> = createClient(resolverv1.RegisterService, transport);
  return {
    session,
    calls,
    shutdowns,
    async register(request, protocol = 'plugins.v1') {
      const version = request.version ?? 'v1.0.0';
      if (protocol === 'resolver.v1') {
        return old.registerPlugin({ name: request.name, version, pattern: request.pattern ?? '**' });
      }
      return heads.registerPlugin({
        name: request.name,
        version,
        metadata: { case: 'secretsProvider', value: { pattern: request.pattern ?? '**' } },
      });
    },
    close: () => session.close({ timeoutMs: 500 }),
  };
}

/** A wire envelope. */
export function envelope(
  id: string,
  value: string,
  init: MessageInitShape<typeof resolverv1.GetSecretsResponse_EnvelopeSchema> = {},
): ProtoEnvelope {
  return create(resolverv1.GetSecretsResponse_EnvelopeSchema, { ...init, id, value: enc(value) });
}
