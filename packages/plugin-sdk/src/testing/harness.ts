// An in-process harness: a minimal engine on a temporary Unix socket that accepts the plugin through
// /hijack, records its registration, and calls it — no process, real sockets.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import {
  attachHijackHandler,
  createMuxSession,
  createSessionTransport,
  type MuxSession,
  serveConnect,
} from '@secrets-engine/ipc';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { type Envelope, envelopeFromProto } from '@secrets-engine/secrets';
import { createPlugin, type Plugin, type PluginOptions, type ServeResult } from '../plugin.js';

/** What the plugin registered with. */
export interface HarnessRegistration {
  name: string;
  version: string;
  pattern: string;
  protocol: 'plugins.v1' | 'resolver.v1';
}

export interface PluginHarness {
  readonly plugin: Plugin;
  readonly registration: HarnessRegistration;
  /** Calls the plugin's GetSecrets as the engine does. Rejects with the ConnectError the engine would see. */
  getSecrets(pattern: string, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<Envelope[]>;
  /** Sends the Shutdown RPC and waits for `serve()` to end. */
  shutdown(): Promise<ServeResult>;
  /** Tears everything down. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface HarnessOptions {
  /** Refuse the registration with this error (to test how a plugin handles it). */
  refuseWith?: ConnectError;
  /** Engine name and version sent back to the plugin. */
  engineName?: string;
  engineVersion?: string;
}

/** Starts `plugin` (a Plugin, or options for createPlugin) against an in-process engine. */
export async function startPluginHarness(
  plugin: Plugin | PluginOptions,
  options: HarnessOptions = {},
): Promise<PluginHarness> {
  const instance = 'serve' in plugin ? plugin : createPlugin({ ...plugin, env: {} });
  const dir = mkdtempSync(join(tmpdir(), 'se-harness-'));
  const socketPath = join(dir, 'engine.sock');
  let resolveSession!: (s: MuxSession) => void;
  const sessionReady = new Promise<MuxSession>((resolve) => {
    resolveSession = resolve;
  });
  let resolveRegistration!: (r: HarnessRegistration) => void;
  const registered = new Promise<HarnessRegistration>((resolve) => {
    resolveRegistration = resolve;
  });
  const server = createServer((_req, res) => res.end());
  attachHijackHandler(server, {
    onConnection: (socket: Socket) => {
      const session = createMuxSession(socket, { role: 'server' });
      const answer = (r: HarnessRegistration) => {
        if (options.refuseWith !== undefined) throw options.refuseWith;
        resolveRegistration(r);
        return {
          engineName: options.engineName ?? 'plugin-harness',
          engineVersion: options.engineVersion ?? 'v0.0.0',
          requestTimeout: {},
        };
      };
      serveConnect(session, {
        routes: (router) => {
          router.service(pluginsv1.RegisterService, {
            registerPlugin: (req) =>
              answer({
                name: req.name,
                version: req.version,
                pattern: req.metadata.case === 'secretsProvider' ? req.metadata.value.pattern : '',
                protocol: 'plugins.v1',
              }),
          });
          router.service(resolverv1.RegisterService, {
            registerPlugin: (req) =>
              answer({ name: req.name, version: req.version, pattern: req.pattern, protocol: 'resolver.v1' }),
          });
        },
      });
      resolveSession(session);
    },
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const connection = connect(socketPath);
  const serving = instance.serve({ connection, handleSignals: false, orphanExitMs: false });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await instance.close();
    const session = await Promise.race([sessionReady, Promise.resolve(undefined)]);
    await session?.close({ timeoutMs: 200 });
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  };
  let registration: HarnessRegistration;
  try {
    registration = await Promise.race([
      registered,
      serving.then(() => Promise.reject(new Error('plugin stopped before registering'))),
    ]);
  } catch (err) {
    await close();
    throw err;
  }
  const session = await sessionReady;
  const resolver = createClient(resolverv1.ResolverService, createSessionTransport(session));
  return {
    plugin: instance,
    registration,
    async getSecrets(pattern, callOptions = {}) {
      const res = await resolver.getSecrets({ pattern }, callOptions);
      if (res.envelopes.length === 0)
        throw new ConnectError('plugin answered an empty list instead of not_found', Code.Internal);
      return res.envelopes.map(envelopeFromProto);
    },
    async shutdown() {
      await createClient(pluginsv1.PluginService, createSessionTransport(session)).shutdown({});
      const result = await serving;
      return result;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
