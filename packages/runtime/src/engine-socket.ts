// The engine socket (protocol.md §4): listening on the Unix socket, the public routes (resolver,
// plugin management, the OLD list route, version), the /hijack upgrade for external plugins (§3),
// and the plain-HTTP fallback (/health, 426 for a non-upgrade /hijack, 404). It works on the public
// Engine interface, plus the one thing the interface does not carry: resolution in wire form.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { attachHijackHandler, createConnectHandler, type Logger } from '@secrets-engine/ipc';
import { healthOr404 } from '@secrets-engine/ipc/internal';
import { healthv1, pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { toNetPath } from '@secrets-engine/secrets/internal';
import type { Engine } from './engine.js';
import { EngineAlreadyRunningError, EngineConfigError, PluginNotFoundError, RuntimeError } from './errors.js';
import { runStatusToProto } from './launched.js';
import type { ProtoEnvelope } from './provider.js';
import { encodeFailures, FAILURES_HEADER, type PluginFailure } from './resolver.js';
import { prepareSocketPath, removeSocket, restrictSocket, socketInode } from './socket.js';

export interface EngineSocketInit {
  engine: Engine;
  socketPath: string;
  /** The engine version GetVersion reports. */
  version: string;
  /**
   * Resolution as the wire carries it (envelopes the engine cannot represent pass through, as Go
   * does); `onPartial` hears of the plugins that failed when some envelopes came back anyway.
   */
  resolve(
    pattern: string,
    signal: AbortSignal,
    onPartial: (failures: readonly PluginFailure[]) => void,
  ): Promise<ProtoEnvelope[]>;
  /** Whether /hijack exists at all (external plugins on). */
  hijack: boolean;
  /** Whether an upgrade is accepted now (not while closing). */
  acceptsPlugins(): boolean;
  /** A socket that completed the /hijack upgrade. */
  onPlugin(socket: Socket): void;
  logger: Logger;
}

export interface EngineSocket {
  /** Stops accepting connections and closes idle ones; requests in progress go on. */
  stopAccepting(): void;
  /** Closes every connection and removes the socket file (only if it is still ours). */
  close(): Promise<void>;
}

/** Listens on `init.socketPath` (EngineAlreadyRunningError when a live engine has it). */
export async function listenEngineSocket(init: EngineSocketInit): Promise<EngineSocket> {
  const { socketPath } = init;
  await prepareSocketPath(socketPath);
  const handler = createConnectHandler({
    routes: (router) => publicRoutes(router, init),
    fallback: (req, res) => publicFallback(req as IncomingMessage, res as ServerResponse, init.hijack),
  });
  const server = createServer(handler);
  // Longer than Go clients' 90 s idle timeout, so a client never reuses a connection we closed.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 30_000;
  server.requestTimeout = 0;
  attachHijackHandler(server, {
    enabled: () => init.hijack && init.acceptsPlugins(),
    onConnection: (socket) => init.onPlugin(socket),
  });
  server.on('clientError', (_err, socket: Socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? // A live listener (an abstract socket has no file to probe, or one won the race).
            new EngineAlreadyRunningError(socketPath, { cause: err })
          : new RuntimeError(`cannot listen on ${socketPath}: ${err.message}`, { cause: err }),
      );
    });
    server.listen(
      toNetPath(socketPath, (message) => new EngineConfigError(message)),
      () => resolve(),
    );
  });
  restrictSocket(socketPath);
  const inode = socketInode(socketPath);
  init.logger.info('engine listening', { socket: socketPath });
  return socketOf(server, socketPath, inode);
}

function socketOf(server: Server, socketPath: string, inode: number | undefined): EngineSocket {
  let closed: Promise<void> | undefined;
  const stopAccepting = () => {
    closed ??= new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
  };
  return {
    stopAccepting,
    async close() {
      stopAccepting();
      server.closeAllConnections();
      await closed;
      removeSocket(socketPath, inode);
    },
  };
}

type Router = Parameters<Parameters<typeof createConnectHandler>[0]['routes']>[0];

function publicRoutes(router: Router, init: EngineSocketInit): void {
  const { engine } = init;
  router.service(resolverv1.ResolverService, {
    getSecrets: async (req, ctx) => {
      const envelopes = await init.resolve(req.pattern, ctx.signal, (failures) =>
        ctx.responseHeader.set(FAILURES_HEADER, encodeFailures(failures)),
      );
      return create(resolverv1.GetSecretsResponseSchema, { envelopes });
    },
  });
  router.service(pluginsv1.PluginManagementService, {
    listPlugins: () =>
      create(pluginsv1.ListPluginsResponseSchema, {
        plugins: engine.listPlugins().map((p) =>
          create(pluginsv1.PluginSchema, {
            name: p.name,
            version: p.version ?? '',
            disabled: p.disabled,
            // §7.6: launched and hijacked plugins are both external (Go's flag: not builtin);
            // `configurable` tells a launched plugin (the engine manages it) from a hijacked one.
            external: p.kind !== 'builtin',
            configurable: p.kind !== 'external',
            runStatus: runStatusToProto(p.status),
            statusMessage: p.statusMessage,
            metadata: { case: 'secretsProvider', value: { pattern: p.pattern ?? '' } },
          }),
        ),
      }),
    enablePlugin: async (req) => {
      await manage(() => engine.enablePlugin(req.name));
      return {};
    },
    disablePlugin: async (req) => {
      await manage(() => engine.disablePlugin(req.name));
      return {};
    },
  });
  // OLD clients (protocol.md §4.1): registered plugins only.
  router.service(resolverv1.ListService, {
    listPlugins: () =>
      create(resolverv1.ListPluginsResponseSchema, {
        plugins: engine
          .listPlugins()
          .filter((p) => p.status === 'running' && p.version !== undefined && p.pattern !== undefined)
          .map((p) => ({
            name: p.name,
            version: p.version!,
            pattern: p.pattern!,
            external: p.kind !== 'builtin',
          })),
      }),
  });
  router.service(healthv1.VersionService, {
    getVersion: () => ({ version: init.version, date: '', commitHash: '' }),
  });
}

async function manage(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof PluginNotFoundError) throw new ConnectError(err.message, Code.NotFound);
    throw err;
  }
}

function publicFallback(req: IncomingMessage, res: ServerResponse, hijackEnabled: boolean): void {
  const path = (req.url ?? '').split('?')[0];
  // With external plugins off, /hijack does not exist, whatever the method (protocol.md §3.3).
  if (path === '/hijack' && hijackEnabled) {
    const body = 'use GET /hijack with "Connection: upgrade" and "Upgrade: tcp" to join as a plugin\n';
    res.writeHead(426, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
    });
    res.end(body);
    return;
  }
  healthOr404(req, res);
}
