// The plugin side of the protocol (protocol.md §1.3, §3.2, §5.1, §7.1, §9): adopt fd 3 or dial and
// upgrade, register over plugins.v1, serve GetSecrets (held until registered) and Shutdown, and end
// when the engine goes away.
import type { Duplex } from 'node:stream';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  createMuxSession,
  type Logger,
  type MuxSession,
  serveConnect,
  silentLogger,
} from '@secrets-engine/ipc';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import {
  type Envelope,
  type EnvelopeInit,
  parsePattern,
  parsePluginName,
  parseVersion,
  type SecretPattern,
} from '@secrets-engine/secrets';
import { connectToEngine } from './connect.js';
import { PluginConfigError, RegistrationError } from './errors.js';
import { RegistrationGate, registrationIncomplete } from './gate.js';
import { handleGetSecrets } from './handler.js';
import { executableName } from './program.js';
import { registerWithEngine } from './register.js';

/** What `getSecrets` receives besides the pattern. */
export interface GetSecretsOptions {
  /** Aborted when the engine gives up on the request (deadline, cancel, shutdown). */
  signal: AbortSignal;
}

/**
 * Resolves a pattern (already narrowed by the engine to this plugin's pattern, protocol.md §6.4)
 * to envelopes. Return an empty list or throw `NotFoundError` when nothing matches.
 */
export type GetSecretsHandler = (
  pattern: SecretPattern,
  options: GetSecretsOptions,
) => Iterable<Envelope | EnvelopeInit> | Promise<Iterable<Envelope | EnvelopeInit>>;

export interface PluginOptions {
  /** v-prefixed semver, e.g. `v1.2.0` (protocol.md §5.1). */
  version: string;
  /** The IDs this plugin serves, e.g. `myrealm/**` (protocol.md §6.2). */
  pattern: string;
  getSecrets: GetSecretsHandler;
  /**
   * The name to register with when started by hand. Default: the program's file name without its
   * extension. An engine-launched plugin always uses the name the engine gave it.
   */
  name?: string;
  logger?: Logger;
  /** Engine socket to dial when started by hand. Default `$SECRETS_ENGINE_SOCKET`, else the default path. */
  socketPath?: string;
  /** How long registration may take when started by hand. Default 5 s; a launched plugin uses the engine's. */
  registrationTimeoutMs?: number;
  /** The environment to read the launch variable and socket override from. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface ServeOptions {
  /** Aborting shuts the plugin down gracefully. */
  signal?: AbortSignal;
  /** Shut down gracefully on SIGINT and SIGTERM. Default true. */
  handleSignals?: boolean;
  /**
   * A connection to the engine that has not been upgraded yet (Go's `WithConnection`): used instead
   * of dialing. Ignored when the plugin was launched by an engine.
   */
  connection?: Duplex;
  /**
   * A launched plugin whose engine went away exits the process after this many ms if it is still
   * alive, so it never outlives its engine. Default 1000; `false` turns it off.
   */
  orphanExitMs?: number | false;
}

/** How `serve()` ended. */
export interface ServeResult {
  /** `shutdown`: the engine asked; `engine-closed`: the connection ended; `local`: close(), signal or abort. */
  reason: 'shutdown' | 'engine-closed' | 'local';
  mode: 'launched' | 'external';
}

export interface Plugin {
  readonly name: string;
  readonly version: string;
  readonly pattern: SecretPattern;
  /**
   * Connects to the engine, registers, and serves until the engine shuts the plugin down or goes
   * away. Rejects if the connection or the registration fails.
   */
  serve(options?: ServeOptions): Promise<ServeResult>;
  /** Shuts down gracefully (GoAway, drain, close). Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const DEFAULT_REGISTRATION_TIMEOUT_MS = 5_000;

/** Creates a secrets-provider plugin. Validates the options at once (PluginConfigError). */
export function createPlugin(options: PluginOptions): Plugin {
  return new PluginImpl(options);
}

function configError(what: string, err: unknown): PluginConfigError {
  return new PluginConfigError(`createPlugin: ${what}: ${(err as Error).message}`, { cause: err });
}

class PluginImpl implements Plugin {
  readonly name: string;
  readonly version: string;
  readonly pattern: SecretPattern;
  readonly #handler: GetSecretsHandler;
  readonly #logger: Logger;
  readonly #options: PluginOptions;
  #session: MuxSession | undefined;
  #serving: Promise<ServeResult> | undefined;
  #closing = false;
  /** Data calls wait here until registration ends (they get the ConnectError it fails with). */
  readonly #gate = new RegistrationGate();
  #registrationTimeoutMs = DEFAULT_REGISTRATION_TIMEOUT_MS;
  #shutdownRequested = false;
  /** Aborted by close(): stops a dial or upgrade still in progress. */
  readonly #closeController = new AbortController();

  constructor(options: PluginOptions) {
    if (typeof options?.getSecrets !== 'function') {
      throw new PluginConfigError(
        'createPlugin: getSecrets must be a function (pattern, { signal }) => envelopes',
      );
    }
    try {
      this.version = parseVersion(options.version);
    } catch (err) {
      throw configError('version', err);
    }
    try {
      this.pattern = parsePattern(options.pattern);
    } catch (err) {
      throw configError('pattern', err);
    }
    try {
      this.name = parsePluginName(
        options.name ?? executableName(process.argv[1] ?? process.argv[0] ?? 'plugin'),
      );
    } catch (err) {
      throw configError('name', err);
    }
    if (
      options.registrationTimeoutMs !== undefined &&
      !(Number.isFinite(options.registrationTimeoutMs) && options.registrationTimeoutMs > 0)
    ) {
      throw new PluginConfigError(
        `createPlugin: registrationTimeoutMs must be a positive number of milliseconds, got ${options.registrationTimeoutMs}`,
      );
    }
    this.#handler = options.getSecrets;
    this.#logger = options.logger ?? silentLogger;
    this.#options = options;
  }

  serve(options: ServeOptions = {}): Promise<ServeResult> {
    if (this.#serving !== undefined)
      return Promise.reject(new PluginConfigError('serve() was already called on this plugin'));
    this.#serving = this.#serve(options);
    return this.#serving;
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#closeController.abort(new Error('plugin closed'));
    const session = this.#session;
    if (session !== undefined) await session.close();
    if (this.#serving !== undefined) await this.#serving.catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #serve(options: ServeOptions): Promise<ServeResult> {
    const env = this.#options.env ?? process.env;
    options.signal?.throwIfAborted();
    const connected = await connectToEngine({
      env,
      serve: options,
      socketPath: this.#options.socketPath,
      registrationTimeoutMs: this.#options.registrationTimeoutMs ?? DEFAULT_REGISTRATION_TIMEOUT_MS,
      closeSignal: this.#closeController.signal,
      closing: () => this.#closing,
    });
    const mode = connected.mode;
    if (connected.socket === undefined) return { reason: 'local', mode };
    const name = connected.name ?? this.name;
    const socket = connected.socket;
    this.#registrationTimeoutMs = connected.registrationTimeoutMs;
    const logger = this.#logger.child({ plugin: name });
    const session = createMuxSession(socket, { role: 'client', logger });
    this.#session = session;
    if (this.#closing) {
      // close() was called while connecting: leave without registering.
      await session.close({ timeoutMs: 200 });
      return { reason: 'local', mode };
    }

    const stopWatching = this.#closeOnStopRequests(options, logger);
    this.#serveRoutes(session, logger);
    try {
      await this.#register(session, name, logger);
    } catch (err) {
      stopWatching();
      // close() during registration (a signal, an abort): a local stop, not a failure.
      if (this.#closing) return { reason: 'local', mode };
      throw err;
    }

    const reason = await session.closed;
    stopWatching();
    const result: ServeResult = {
      reason: this.#shutdownRequested ? 'shutdown' : reason.kind === 'local' ? 'local' : 'engine-closed',
      mode,
    };
    logger.info('plugin stopped', { reason: result.reason });
    if (mode === 'launched' && result.reason === 'engine-closed' && options.orphanExitMs !== false) {
      // A launched plugin never outlives its engine (protocol.md §0).
      const timer = setTimeout(() => process.exit(0), options.orphanExitMs ?? 1_000);
      timer.unref();
    }
    return result;
  }
  /** SIGINT, SIGTERM (unless `handleSignals: false`) and `signal` close the plugin. Returns the undo. */
  #closeOnStopRequests(options: ServeOptions, logger: Logger): () => void {
    const onSignal = (sig: NodeJS.Signals) => {
      logger.info('shutting down on signal', { signal: sig });
      void this.close();
    };
    const onAbort = () => void this.close();
    if (options.handleSignals !== false) {
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    return () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      options.signal?.removeEventListener('abort', onAbort);
    };
  }

  /** What the engine may call: Shutdown (both services), and GetSecrets behind the gate (§4, §5.1). */
  #serveRoutes(session: MuxSession, logger: Logger): void {
    const shutdown = () => {
      this.#shutdownRequested = true;
      logger.info('engine requested shutdown');
      // Answer first; the graceful close drains the Shutdown stream before closing (§7.1).
      setImmediate(() => void session.close());
      return {};
    };
    serveConnect(session, {
      logger,
      routes: (router) => {
        router.service(pluginsv1.PluginService, { shutdown });
        router.service(resolverv1.PluginService, { shutdown });
        router.service(resolverv1.ResolverService, {
          getSecrets: async (req, ctx) => {
            await this.#gate.wait(ctx.signal, this.#registrationTimeoutMs);
            return handleGetSecrets(this.#handler, req.pattern, ctx.signal, logger);
          },
        });
      },
    });
  }

  /**
   * Registers (with the OLD-protocol fallback, register.ts) and opens the gate. On failure, data
   * calls waiting for registration fail as Go's setupInterceptor makes them fail (§5.1 step 7),
   * the session closes, and the error is rethrown.
   */
  async #register(session: MuxSession, name: string, logger: Logger): Promise<void> {
    try {
      await registerWithEngine(
        session,
        {
          name,
          version: this.version,
          pattern: this.pattern,
          timeoutMs: this.#registrationTimeoutMs,
          signal: this.#closeController.signal,
        },
        logger,
      );
    } catch (err) {
      const timedOut =
        err instanceof RegistrationError &&
        err.cause instanceof ConnectError &&
        err.cause.code === Code.DeadlineExceeded;
      this.#gate.fail(
        timedOut
          ? registrationIncomplete(this.#registrationTimeoutMs)
          : new ConnectError(`registration failed: ${(err as Error).message}`, Code.Unavailable),
      );
      await session.close({ timeoutMs: 200 });
      throw err;
    }
    this.#gate.open();
  }
}
