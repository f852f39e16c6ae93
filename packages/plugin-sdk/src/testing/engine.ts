// The one fake engine (never exported from the package): the engine side of a plugin connection
// built from @secrets-engine/ipc — yamux server, registration routes, a resolver client. Used by the
// harness, the conformance suite and the SDK's own tests (protocol.md §3.3, §5.1).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { createClient, type HandlerContext } from '@connectrpc/connect';
import {
  attachHijackHandler,
  createMuxSession,
  createSessionTransport,
  type MuxSession,
  serveConnect,
} from '@secrets-engine/ipc';
import { accesscontrolv1, pluginsv1, resolverv1 } from '@secrets-engine/proto';

export interface SeenRegistration {
  name: string;
  version: string;
  pattern: string;
  /** The `metadata` oneof of a plugins.v1 registration; undefined on the OLD route (no oneof) or when unset. */
  metadata: 'secretsProvider' | 'accessControlModule' | undefined;
  protocol: 'plugins.v1' | 'resolver.v1';
  /** The deadline the plugin put on the call (connect-timeout-ms), as the engine sees it. */
  timeoutMs: number | undefined;
}

export interface EngineOptions {
  /** The registration routes served. Default 'both'. `resolver.v1` only = an OLD engine (§4.3). */
  serves?: 'both' | 'plugins.v1' | 'resolver.v1';
  /** Runs before the answer: await to delay it, throw (a ConnectError) to refuse it. */
  onRegister?: (registration: SeenRegistration, ctx: HandlerContext, connection: EngineConnection) => unknown;
  /** Engine name and version sent back to the plugin. Default `test-engine` `v9.9.9`. */
  engineName?: string;
  engineVersion?: string;
}

/** The engine end of one plugin connection. */
export interface EngineConnection {
  readonly session: MuxSession;
  /** Resolves with what the plugin sent in RegisterPlugin (before the answer is sent). */
  readonly registration: Promise<SeenRegistration>;
  /** The plugin's resolver.v1.ResolverService. */
  readonly resolver: ReturnType<typeof createClient<typeof resolverv1.ResolverService>>;
  /** The plugin's accesscontrol.v1.AccessControlService (an access-control module's). */
  readonly accessControl: ReturnType<typeof createClient<typeof accesscontrolv1.AccessControlService>>;
  /** Sends plugins.v1.PluginService/Shutdown. */
  shutdown(): Promise<void>;
}

/** Runs the engine side (yamux server + registration routes) on an already connected socket. */
export function attachEngine(socket: Duplex, options: EngineOptions = {}): EngineConnection {
  const session = createMuxSession(socket, { role: 'server' });
  const serves = options.serves ?? 'both';
  let resolveRegistration!: (r: SeenRegistration) => void;
  const registration = new Promise<SeenRegistration>((resolve) => {
    resolveRegistration = resolve;
  });
  const answer = async (seen: SeenRegistration, ctx: HandlerContext) => {
    resolveRegistration(seen);
    await options.onRegister?.(seen, ctx, connection);
    return {
      engineName: options.engineName ?? 'test-engine',
      engineVersion: options.engineVersion ?? 'v9.9.9',
      requestTimeout: {},
    };
  };
  serveConnect(session, {
    routes: (router) => {
      if (serves !== 'resolver.v1') {
        router.service(pluginsv1.RegisterService, {
          registerPlugin: (req, ctx) =>
            answer(
              {
                name: req.name,
                version: req.version,
                pattern: req.metadata.case === 'secretsProvider' ? req.metadata.value.pattern : '',
                metadata: req.metadata.case,
                protocol: 'plugins.v1',
                timeoutMs: ctx.timeoutMs(),
              },
              ctx,
            ),
        });
      }
      if (serves !== 'plugins.v1') {
        router.service(resolverv1.RegisterService, {
          registerPlugin: (req, ctx) =>
            answer(
              {
                name: req.name,
                version: req.version,
                pattern: req.pattern,
                metadata: undefined,
                protocol: 'resolver.v1',
                timeoutMs: ctx.timeoutMs(),
              },
              ctx,
            ),
        });
      }
    },
  });
  const transport = createSessionTransport(session);
  const connection: EngineConnection = {
    session,
    registration,
    resolver: createClient(resolverv1.ResolverService, transport),
    accessControl: createClient(accesscontrolv1.AccessControlService, transport),
    async shutdown() {
      await createClient(pluginsv1.PluginService, transport).shutdown({}, { timeoutMs: 2_000 });
    },
  };
  return connection;
}

/** An engine listening on a temporary Unix socket, accepting plugins through /hijack (§3.3). */
export interface HijackEngine {
  readonly socketPath: string;
  readonly dir: string;
  /** Every connection accepted so far. */
  readonly connections: EngineConnection[];
  /** Resolves with the next (or first not yet taken) connection. */
  nextConnection(): Promise<EngineConnection>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startHijackEngine(
  options: EngineOptions & { socketPath?: (dir: string) => string } = {},
): Promise<HijackEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'se-sdk-'));
  const socketPath = options.socketPath?.(dir) ?? join(dir, 'engine.sock');
  const connections: EngineConnection[] = [];
  const waiting: Array<(c: EngineConnection) => void> = [];
  let taken = 0;
  const server: Server = createServer((_req, res) => res.end());
  attachHijackHandler(server, {
    onConnection: (socket) => {
      const connection = attachEngine(socket, options);
      connections.push(connection);
      const next = waiting.shift();
      if (next !== undefined) {
        taken++;
        next(connection);
      }
    },
  });
  mkdirSync(dirname(socketPath), { recursive: true });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const close = async () => {
    await Promise.all(connections.map((c) => c.session.close({ timeoutMs: 200 })));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    socketPath,
    dir,
    connections,
    nextConnection() {
      if (taken < connections.length) return Promise.resolve(connections[taken++]!);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
