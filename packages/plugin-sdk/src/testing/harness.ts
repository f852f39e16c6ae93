// An in-process harness: the shared fake engine (./engine.ts) on a temporary Unix socket accepts the
// plugin through /hijack, records its registration, and calls it as the real engine does (the
// runtime's resolver): the requested pattern narrowed to the registered one, and the answer stamped as
// the engine stamps it (`provider` is the plugin's name, `resolved_at` filled when the plugin left it
// unset) — no process, real sockets.
import { connect } from 'node:net';
import { clone } from '@bufbuild/protobuf';
import { TimestampSchema, timestampNow } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  type Envelope,
  envelopeFromProto,
  filter,
  isGoZeroTime,
  isInvalidPatternError,
  parsePattern,
  type SecretPattern,
} from '@secrets-engine/secrets';
import { createPlugin, type Plugin, type PluginOptions, type ServeResult } from '../plugin.js';
import { executableName } from '../program.js';
import { type SeenRegistration, startHijackEngine } from './engine.js';

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
  /**
   * The plugin's entry file (e.g. `new URL('./main.ts', import.meta.url)` as a path): options
   * without a `name` register as `executableName(entry)`, the name an engine gives that executable,
   * never after the test runner's worker. Default name without it: `plugin`.
   */
  entry?: string;
}

/** The name options without a `name` register with under the harness. */
export function harnessPluginName(plugin: PluginOptions, entry: string | undefined): string {
  return plugin.name ?? (entry === undefined ? 'plugin' : executableName(entry));
}

/** The pattern the engine sends a plugin for `rawPattern` (protocol.md §6.4), or undefined: not called. */
export function narrowForPlugin(registered: string, rawPattern: string): SecretPattern | undefined {
  let pattern: SecretPattern;
  try {
    pattern = parsePattern(rawPattern);
  } catch (err) {
    throw new ConnectError(
      isInvalidPatternError(err)
        ? err.message
        : `invalid pattern ${JSON.stringify(rawPattern)}: ${(err as Error).message}`,
      Code.InvalidArgument,
    );
  }
  return filter(registered, pattern);
}

/** Starts `plugin` (a Plugin, or options for createPlugin) against an in-process engine. */
export async function startPluginHarness(
  plugin: Plugin | PluginOptions,
  options: HarnessOptions = {},
): Promise<PluginHarness> {
  const instance =
    'serve' in plugin
      ? plugin
      : createPlugin({ ...plugin, name: harnessPluginName(plugin, options.entry), env: {} });
  const engine = await startHijackEngine({
    engineVersion: options.engineVersion ?? 'v0.0.0',
    engineName: options.engineName ?? 'plugin-harness',
    onRegister: () => {
      if (options.refuseWith !== undefined) throw options.refuseWith;
    },
  });
  const first = engine.nextConnection();
  const connection = connect(engine.socketPath);
  const serving = instance.serve({ connection, handleSignals: false, orphanExitMs: false });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await instance.close();
    await engine.close();
  };
  let seen: SeenRegistration;
  let conn: Awaited<typeof first>;
  try {
    conn = await Promise.race([
      first,
      serving.then(() => Promise.reject(new Error('plugin stopped before registering'))),
    ]);
    seen = await Promise.race([
      conn.registration,
      serving.then(() => Promise.reject(new Error('plugin stopped before registering'))),
    ]);
    if (options.refuseWith !== undefined) {
      await serving;
      throw new Error('plugin stopped before registering');
    }
    // Registered once the answer is back: the plugin serves data calls from then on.
  } catch (err) {
    await close();
    throw err;
  }
  const registration: HarnessRegistration = {
    name: seen.name,
    version: seen.version,
    pattern: seen.pattern,
    protocol: seen.protocol,
  };
  return {
    plugin: instance,
    registration,
    async getSecrets(rawPattern, callOptions = {}) {
      const narrowed = narrowForPlugin(registration.pattern, rawPattern);
      // Outside the plugin's pattern: the engine never calls it.
      if (narrowed === undefined) throw new ConnectError('secret not found', Code.NotFound);
      const res = await conn.resolver.getSecrets({ pattern: narrowed }, callOptions);
      if (res.envelopes.length === 0)
        throw new ConnectError('plugin answered an empty list instead of not_found', Code.Internal);
      const resolvedAt = timestampNow();
      return res.envelopes.map((message) => {
        // As the engine does (protocol.md §6.4): the provider is who answered, whatever it said.
        const stamped = { ...message, provider: registration.name };
        if (stamped.resolvedAt === undefined || isGoZeroTime(stamped.resolvedAt))
          stamped.resolvedAt = clone(TimestampSchema, resolvedAt);
        return envelopeFromProto(stamped);
      });
    },
    async shutdown() {
      await conn.shutdown();
      return serving;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
