// Test helpers of @secrets-engine/runtime (never exported): temporary directories, real Unix
// socket pairs, a logger that records everything, Connect clients of the engine socket, and an
// in-process external plugin that joins an engine through /hijack with the ipc pieces directly.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  type Client,
  ConnectError,
  createClient,
  type HandlerContext,
  type ServiceImpl,
} from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import {
  createMuxSession,
  createSessionTransport,
  dialAndUpgrade,
  type Logger,
  type MuxSession,
  type MuxSessionInit,
  serveConnect,
} from '@secrets-engine/ipc';
import { accesscontrolv1, healthv1, pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { expect, onTestFinished } from 'vitest';
import { type BuiltinPlugin, createEngine, type Engine, type EngineOptions } from '../index.js';
import type { ProtoEnvelope } from '../provider.js';

export { sleep, waitFor } from '@secrets-engine/test-utils/process.js';
export { socketPair } from '@secrets-engine/test-utils/sockets.js';
export type { ProtoEnvelope } from '../provider.js';

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

/** An engine on a temporary socket, started, and closed when the current test finishes. */
export async function startedEngine(options: EngineOptions = {}): Promise<Engine> {
  const engine = createEngine({ socketPath: tempSocketPath(), ...options });
  onTestFinished(() => engine.close());
  await engine.start();
  return engine;
}

/** The ConnectError `promise` rejects with; fails the test if it resolves or rejects otherwise. */
export async function connectError(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectError);
    return err as ConnectError;
  }
  throw new Error('expected the call to fail');
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
  /** Serves accesscontrol.v1.AccessControlService with these methods (an access-control module). */
  accessControl?: Partial<ServiceImpl<typeof accesscontrolv1.AccessControlService>>;
  /** Options of the plugin's yamux session (e.g. a small maxInboundStreams). */
  session?: Omit<MuxSessionInit, 'role'>;
}

/** An external plugin joined through /hijack, written with the ipc pieces only. */
export interface FakePlugin {
  readonly session: MuxSession;
  /** Patterns the engine asked for, in order. */
  readonly calls: string[];
  /** Shutdown RPCs received, by schema. */
  readonly shutdowns: { 'plugins.v1': number; 'resolver.v1': number };
  /** `accessControlModule`: registers as an access-control module (no pattern). */
  register(
    request: { name: string; version?: string; pattern?: string; accessControlModule?: boolean },
    protocol?: 'plugins.v1' | 'resolver.v1',
  ): Promise<{ engineName: string; engineVersion: string }>;
  close(): Promise<void>;
}

export async function joinEngine(socketPath: string, options: FakePluginOptions = {}): Promise<FakePlugin> {
  const socket = await dialAndUpgrade(socketPath, { timeoutMs: options.timeoutMs ?? 2_000 });
  const session = createMuxSession(socket, { ...options.session, role: 'client' });
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
      if (options.accessControl !== undefined) {
        router.service(accesscontrolv1.AccessControlService, options.accessControl);
      }
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
        metadata: request.accessControlModule
          ? { case: 'accessControlModule', value: {} }
          : { case: 'secretsProvider', value: { pattern: request.pattern ?? '**' } },
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
