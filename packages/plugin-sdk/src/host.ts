// What every plugin does, whatever it serves (protocol.md §1.3, §3.2, §5.1, §7.1, §7.5): connect
// (fd 3 or dial and upgrade) → yamux session → stop on signals → routes (Shutdown, and the data
// service behind the registration gate) → register → wait for the session to end. A secrets
// provider (plugin.ts) and an access-control module (access-control.ts) differ only in what they
// register as and which data service they serve.
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { createMuxSession, type Logger, type MuxSession, serveConnect } from '@secrets-engine/ipc';
import { nodeChildProcess } from '@secrets-engine/ipc/internal';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { parsePluginName, parseVersion } from '@secrets-engine/secrets';
import { connectToEngine } from './connect.js';
import { PluginConfigError, RegistrationError } from './errors.js';
import { RegistrationGate, registrationIncomplete } from './gate.js';
import { executableName } from './program.js';
import { type RegisterAs, registerWithEngine } from './register.js';

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

/** The options every kind of plugin takes to reach an engine. */
export interface HostOptions {
  /** v-prefixed semver, e.g. `v1.2.0` (protocol.md §5.1). */
  version: string;
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

/** What a data handler gets to wait for registration with. */
export interface DataRouteContext {
  /**
   * `undefined` once registration succeeded (nothing to wait for, and the call's signal is not
   * made: issue 14); before, a promise that resolves when it succeeds and rejects with the
   * ConnectError Go's setupInterceptor answers (§5.1 step 7) when it failed, took too long, or
   * the call's signal aborted first.
   */
  registered(call: { readonly signal: AbortSignal }): Promise<void> | undefined;
  logger: Logger;
}

export interface HostSpec {
  /** What RegisterPlugin carries besides name and version. */
  registerAs: RegisterAs;
  /** The largest request the engine may send this plugin (a larger one: resource_exhausted). */
  requestMaxBytes: number;
  /** Serves the data service (GetSecrets or AccessControlService); each call awaits `registered`. */
  dataRoutes(router: ConnectRouter, context: DataRouteContext): void;
}

const DEFAULT_REGISTRATION_TIMEOUT_MS = 5_000;

/**
 * Validates the options every plugin takes (name, version, registrationTimeoutMs); errors are
 * PluginConfigError prefixed with `factory` (`createPlugin: version: …`).
 */
export function validateHostOptions(
  options: HostOptions,
  factory: string,
): { name: string; version: string } {
  const configError = (what: string, err: unknown) =>
    new PluginConfigError(`${factory}: ${what}: ${(err as Error).message}`, { cause: err });
  let version: string;
  try {
    version = parseVersion(options.version);
  } catch (err) {
    throw configError('version', err);
  }
  let name: string;
  try {
    name = parsePluginName(options.name ?? executableName(process.argv[1] ?? process.argv[0] ?? 'plugin'));
  } catch (err) {
    throw configError('name', err);
  }
  if (
    options.registrationTimeoutMs !== undefined &&
    !(Number.isFinite(options.registrationTimeoutMs) && options.registrationTimeoutMs > 0)
  ) {
    throw new PluginConfigError(
      `${factory}: registrationTimeoutMs must be a positive number of milliseconds, got ${options.registrationTimeoutMs}`,
    );
  }
  return { name, version };
}

/** What every kind of plugin program offers (a secrets provider, an access-control module). */
export interface HostedProgram {
  readonly name: string;
  readonly version: string;
  /**
   * Connects to the engine, registers, and serves until the engine shuts the plugin down or goes
   * away. Rejects if the connection or the registration fails.
   */
  serve(options?: ServeOptions): Promise<ServeResult>;
  /** Shuts down gracefully (GoAway, drain, close). Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The objects createPlugin and createAccessControlModule return: a name, a version, a host. */
export class HostedPlugin implements HostedProgram {
  readonly name: string;
  readonly version: string;
  readonly #host: PluginHost;

  constructor(host: PluginHost) {
    this.name = host.name;
    this.version = host.version;
    this.#host = host;
  }

  serve(options: ServeOptions = {}): Promise<ServeResult> {
    return this.#host.serve(options);
  }

  close(): Promise<void> {
    return this.#host.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Serves one plugin connection; `serve()` may be called once. */
export class PluginHost {
  readonly name: string;
  readonly version: string;
  readonly #spec: HostSpec;
  readonly #logger: Logger;
  readonly #options: HostOptions;
  #session: MuxSession | undefined;
  #serving: Promise<ServeResult> | undefined;
  #closing = false;
  /** Data calls wait here until registration ends (they get the ConnectError it fails with). */
  readonly #gate = new RegistrationGate();
  #registrationTimeoutMs = DEFAULT_REGISTRATION_TIMEOUT_MS;
  #shutdownRequested = false;
  /** Aborted by close(): stops a dial or upgrade still in progress. */
  readonly #closeController = new AbortController();

  /** `name` and `version` are already validated (validateHostOptions). */
  constructor(
    identity: { name: string; version: string },
    options: HostOptions,
    spec: HostSpec,
    logger: Logger,
  ) {
    this.name = identity.name;
    this.version = identity.version;
    this.#options = options;
    this.#spec = spec;
    this.#logger = logger;
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
    if (mode === 'launched' && result.reason === 'shutdown' && options.handleSignals !== false) {
      // Docker's engine follows its Shutdown RPC with SIGINT at once (then SIGKILL after its
      // timeout). The plugin obeyed and is finishing: the signal must not kill it mid-cleanup, as
      // Go plugins keep their signal.NotifyContext until main returns (compatibility.md 11).
      // Listeners keep nothing alive; the engine's SIGKILL still ends a plugin that hangs.
      const absorb = (sig: NodeJS.Signals) =>
        logger.debug('already shutting down, ignoring signal', { signal: sig });
      process.on('SIGINT', absorb);
      process.on('SIGTERM', absorb);
    }
    if (mode === 'launched' && result.reason === 'engine-closed') {
      // What the plugin started goes with it: the engine that would have ended its process group
      // is gone (issue 13 item 2).
      endOwnProcessGroupOnExit(logger);
      if (options.orphanExitMs !== false) {
        // A launched plugin never outlives its engine (protocol.md §0).
        const timer = setTimeout(() => process.exit(0), options.orphanExitMs ?? 1_000);
        timer.unref();
      }
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
      // SIGUSR1 would start Node's inspector (a port any local user can attach to and read the
      // secrets this plugin handles); a listener replaces that handler, so it is ignored.
      process.on('SIGUSR1', ignoreDebugSignal);
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    return () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGUSR1', ignoreDebugSignal);
      options.signal?.removeEventListener('abort', onAbort);
    };
  }

  /** What the engine may call: Shutdown (both services), and the data service behind the gate (§4, §5.1). */
  #serveRoutes(session: MuxSession, logger: Logger): void {
    const shutdown = () => {
      this.#shutdownRequested = true;
      logger.info('engine requested shutdown');
      // Answer first; the graceful close drains the Shutdown stream before closing (§7.1).
      setImmediate(() => void session.close());
      return {};
    };
    const context: DataRouteContext = {
      registered: (call) =>
        this.#gate.isOpen ? undefined : this.#gate.wait(call.signal, this.#registrationTimeoutMs),
      logger,
    };
    serveConnect(session, {
      logger,
      readMaxBytes: this.#spec.requestMaxBytes,
      routes: (router) => {
        router.service(pluginsv1.PluginService, { shutdown });
        router.service(resolverv1.PluginService, { shutdown });
        this.#spec.dataRoutes(router, context);
      },
    });
  }

  /**
   * Registers (with the OLD-protocol fallback for providers, register.ts) and opens the gate. On
   * failure, data calls waiting for registration fail as Go's setupInterceptor makes them fail
   * (§5.1 step 7), the session closes, and the error is rethrown.
   */
  async #register(session: MuxSession, name: string, logger: Logger): Promise<void> {
    try {
      await registerWithEngine(
        session,
        {
          name,
          version: this.version,
          as: this.#spec.registerAs,
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

/** SIGUSR1 while serving: never a debugger (see #closeOnStopRequests). */
function ignoreDebugSignal(): void {}

/**
 * When this process leads its own process group (our engine launches plugins that way; Docker's
 * does not, and then nothing is signalled), SIGTERM goes to the rest of the group as the process
 * exits, however it exits. The process itself ignores that SIGTERM: it is already leaving.
 */
function endOwnProcessGroupOnExit(logger: Logger): void {
  if (process.platform === 'win32' || ownProcessGroup() !== process.pid) return;
  process.once('exit', () => {
    process.on('SIGTERM', () => {});
    try {
      process.kill(-process.pid, 'SIGTERM');
    } catch {
      // nobody left
    }
  });
  logger.debug('the process group ends with the plugin', { pgid: process.pid });
}

/** This process's group id: /proc on Linux, `ps` elsewhere; undefined when it cannot be read. */
function ownProcessGroup(): number | undefined {
  try {
    if (process.platform === 'linux') {
      const stat = readFileSync('/proc/self/stat', 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    }
    return Number(
      // node:child_process only where there is no /proc (it costs every plugin ~0.6 MiB otherwise).
      nodeChildProcess()
        .execFileSync('ps', ['-o', 'pgid=', '-p', String(process.pid)], { encoding: 'utf8' })
        .trim(),
    );
  } catch {
    return undefined;
  }
}
