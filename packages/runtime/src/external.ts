// One external plugin: started by hand, it dialed the engine socket and upgraded through /hijack
// (protocol.md §3). The engine serves registration on its session (§5.1) and closes it when the
// plugin does not register in time; once registered it answers requests until its session closes.
// Mirrors LaunchedPlugin, without the process: the engine never starts, restarts or kills it.
import type { Socket } from 'node:net';
import { createMuxSession, type Logger, type MuxSession, serveConnect } from '@secrets-engine/ipc';
import { SMALL_REQUEST_MAX_BYTES } from '@secrets-engine/ipc/internal';
import { type AccessModule, sessionAccessModule } from './access-module.js';
import type { PluginEntry, PluginInfo } from './entry.js';
import type { RunStatus } from './launched.js';
import type { PluginSessionOptions } from './options.js';
import { type CallLimits, type Provider, requestShutdown, sessionProvider } from './provider.js';
import { createRegistrationEndpoint, type Registration } from './registration.js';

export interface ExternalPluginInit {
  /** Who dialled, as the kernel reported it when the connection was accepted (in its log lines). */
  peer?: { pid: number | undefined; uid: number } | undefined;
  registrationTimeoutMs: number;
  requestTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Limits of the plugin's session (EngineOptions.pluginSession). */
  session: PluginSessionOptions;
  /** Calls open on the plugin's connection at once, and waiting (admission.ts). */
  callLimits: CallLimits;
  engineName: string;
  engineVersion: string;
  logger: Logger;
  /**
   * Claims the registered name and records the plugin in the same tick, so a concurrent duplicate
   * sees it (throws ConnectError already_exists on a clash).
   */
  claim(registration: Registration, plugin: ExternalPlugin): void;
  /** It registered and now answers requests. */
  onRegistered(plugin: ExternalPlugin): void;
  /** Its session closed: before registering (`registered` false) or after (it left). */
  onClosed(plugin: ExternalPlugin, registered: boolean): void;
}

export class ExternalPlugin implements PluginEntry {
  readonly kind = 'external';
  /** Empty until it registers. */
  name = '';
  status: RunStatus = 'running';
  statusMessage = '';
  registration: Registration | undefined;
  readonly #session: MuxSession;
  readonly #init: ExternalPluginInit;
  #provider: Provider | undefined;
  #accessModule: AccessModule | undefined;
  #disabled = false;

  constructor(socket: Socket, init: ExternalPluginInit) {
    this.#init = init;
    const logger = init.logger.child({
      external: true,
      ...(init.peer === undefined ? {} : { peerPid: init.peer.pid, peerUid: init.peer.uid }),
    });
    const session = createMuxSession(socket, {
      ...init.session,
      role: 'server',
      logger,
      closeTimeoutMs: init.shutdownTimeoutMs,
    });
    this.#session = session;
    const endpoint = createRegistrationEndpoint({
      engineName: init.engineName,
      engineVersion: init.engineVersion,
      requestTimeoutMs: init.requestTimeoutMs,
      claim: (r) => {
        this.name = r.name;
        try {
          init.claim(r, this);
        } catch (err) {
          this.name = '';
          throw err;
        }
        this.registration = r;
        if (r.role === 'access-control') {
          this.#accessModule = sessionAccessModule(session, r.name, { timeoutMs: init.requestTimeoutMs });
        } else {
          this.#provider = sessionProvider(session, r, init.callLimits);
        }
      },
    });
    // Before it registers, a peer here is anyone of this uid: its requests are small (issue 12 item 3).
    serveConnect(session, {
      routes: (router) => endpoint.routes(router),
      readMaxBytes: SMALL_REQUEST_MAX_BYTES,
      logger,
    });
    const timer = setTimeout(() => {
      if (this.registration === undefined) {
        logger.warn('external plugin did not register in time, closing its connection', {
          timeoutMs: init.registrationTimeoutMs,
        });
        void session.close({ timeoutMs: 100 });
      }
    }, init.registrationTimeoutMs);
    endpoint.registered.then((r) => {
      clearTimeout(timer);
      logger.info('external plugin registered', {
        plugin: r.name,
        version: r.version,
        ...(r.role === 'access-control' ? { role: r.role } : { pattern: r.pattern }),
      });
      init.onRegistered(this);
    });
    void session.closed.then((reason) => {
      clearTimeout(timer);
      const registered = this.registration !== undefined;
      if (registered) {
        this.#provider = undefined;
        this.#accessModule = undefined;
        this.status = 'stopped';
        this.statusMessage = 'disconnected';
        logger.info('external plugin left', { plugin: this.name, reason: reason.kind });
      }
      init.onClosed(this, registered);
    });
  }

  get provider(): Provider | undefined {
    return this.#disabled ? undefined : this.#provider;
  }

  get accessModule(): AccessModule | undefined {
    return this.#disabled ? undefined : this.#accessModule;
  }

  info(): PluginInfo {
    return {
      name: this.name,
      kind: this.kind,
      version: this.registration?.version,
      role: this.registration?.role,
      pattern: this.registration?.pattern,
      disabled: this.#disabled,
      status: this.status,
      statusMessage: this.statusMessage,
      restarts: 0,
      pid: undefined,
    };
  }

  /** Shutdown RPC when registered and connected, then the session closes; every step bounded. */
  async stop(): Promise<void> {
    const t = this.#init.shutdownTimeoutMs;
    if (this.registration !== undefined && this.#session.status === 'open') {
      try {
        await requestShutdown(this.#session, this.registration.protocol, t);
      } catch {
        // the plugin may be gone already
      }
    }
    await this.#session.close({ timeoutMs: t });
  }

  async enable(): Promise<boolean> {
    if (!this.#disabled) return false;
    this.#disabled = false;
    this.#init.logger.info('plugin enabled', { plugin: this.name });
    return true;
  }

  async disable(): Promise<boolean> {
    if (this.#disabled) return false;
    this.#disabled = true;
    this.#init.logger.info('plugin disabled', { plugin: this.name });
    return true;
  }
}
