// The engine, as a coordinator: it keeps the registry of plugins (builtin, launched, external, all
// behind one PluginEntry interface), claims names, resolves requests across them and reports
// changes. What it coordinates lives beside it: options.ts (defaults, validation), discovery.ts,
// builtin.ts, launched.ts, external.ts, engine-socket.ts (the socket and its routes).
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Code, ConnectError } from '@connectrpc/connect';
import { type Logger, silentLogger } from '@secrets-engine/ipc';
import { type Envelope, envelopeFromProto } from '@secrets-engine/secrets';
import { type AccessCheck, createAccessControl } from './access.js';
import type { AccessModule } from './access-module.js';
import { RequestAdmission } from './admission.js';
import { BuiltinEntry } from './builtin.js';
import { type CachingProvider, cachingProvider } from './cache.js';
import { disableCoreDumps } from './core-dumps.js';
import {
  type DiscoveredPlugin,
  discoverPlugins,
  executableIdentity,
  pluginEnvironment,
} from './discovery.js';
import { type EngineSocket, listenEngineSocket } from './engine-socket.js';
import { byName, type PluginEntry, type PluginInfo } from './entry.js';
import { EngineConfigError, PluginNotFoundError, RuntimeError } from './errors.js';
import { ExternalPlugin, type ExternalPluginInit } from './external.js';
import { LaunchedPlugin } from './launched.js';
import { type EngineOptions, type ResolvedOptions, resolveDisabled, resolveOptions } from './options.js';
import { peerReader, toRequester } from './peer.js';
import { PinCheck } from './pins.js';
import { notFound, type ProtoEnvelope, type Provider } from './provider.js';
import type { Registration } from './registration.js';
import { type PluginFailure, type ResolutionReport, resolveSecrets } from './resolver.js';
import { reapOrphanGroups } from './state.js';

/** What reloadPlugins() did, by plugin name (sorted). */
export interface PluginReload {
  started: string[];
  stopped: string[];
  restarted: string[];
  unchanged: string[];
}

export interface EngineEvents {
  /** A plugin changed status, registered, or left. */
  change: [plugin: PluginInfo];
  /** start() finished: every plugin was tried once. */
  ready: [];
}

export interface Engine {
  readonly socketPath: string;
  /** Listens, then launches every plugin in parallel; resolves once each was tried once. */
  start(options?: { signal?: AbortSignal }): Promise<void>;
  /** Stops every plugin in parallel (no orphan left) and the socket. Idempotent. */
  close(): Promise<void>;
  listPlugins(): PluginInfo[];
  /**
   * The access-control modules that are registered, running and enabled, in registration order
   * (a module that registers again moves to the end). Launched and external plugins that
   * registered with `access_control_module` (protocol.md §10.1); they never resolve secrets.
   */
  accessModules(): readonly AccessModule[];
  getSecrets(pattern: string, options?: { signal?: AbortSignal; noCache?: boolean }): Promise<Envelope[]>;
  /**
   * Reads the plugins folder again: new plugins launched, removed ones stopped, changed ones
   * restarted, the others untouched (`serve` does this on SIGHUP).
   */
  reloadPlugins(options?: { signal?: AbortSignal }): Promise<PluginReload>;
  /**
   * Takes a plugin back into resolution (a launched one is started again) and its name out of the
   * disabled names. `PluginNotFoundError` when no plugin has that name and it was not disabled.
   */
  enablePlugin(name: string, options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Takes a plugin out of resolution (a launched one is stopped) and adds its name to the disabled
   * names: while there, an external plugin registering with it is refused. `PluginNotFoundError`
   * for an unknown name.
   */
  disablePlugin(name: string, options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Replaces the disabled names (EngineOptions.disabledPlugins; `serve` on SIGHUP): every plugin
   * named is disabled, every plugin that was disabled by a name no longer named is enabled, names
   * no plugin has are kept for a later registration. Resolves with what changed (sorted).
   */
  setDisabledPlugins(
    names: readonly string[],
    options?: { signal?: AbortSignal },
  ): Promise<{ disabled: string[]; enabled: string[] }>;
  /** The disabled names, sorted. */
  disabledPlugins(): string[];
  on<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): this;
  off<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): this;
  [Symbol.asyncDispose](): Promise<void>;
}

export function createEngine(options: EngineOptions = {}): Engine {
  return new EngineImpl(options);
}

class EngineImpl extends EventEmitter implements Engine {
  readonly socketPath: string;
  readonly #opts: ResolvedOptions;
  readonly #logger: Logger;
  readonly #entries = new Map<string, PluginEntry>();
  /** External plugins that connected and have not registered (nor left) yet. */
  readonly #connecting = new Set<ExternalPlugin>();
  /** Launched and external plugins in the order of their latest registration. */
  readonly #registrationOrder = new Set<PluginEntry>();
  #socket: EngineSocket | undefined;
  #state: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  #closing: Promise<void> | undefined;
  readonly #shutdown = new AbortController();
  /** Calls in progress, through the socket and getSecrets() alike (limits.maxRequestsInFlight). */
  readonly #admission: RequestAdmission;
  /** The plugins folder's pin check, made at the first discovery and kept (pins.ts). */
  #pins: PinCheck | undefined;
  /** Each launched plugin's executable identity when it was discovered (reloadPlugins). */
  readonly #identities = new WeakMap<LaunchedPlugin, string>();
  #reloading: Promise<void> = Promise.resolve();
  /** The answer caches of the plugins configured for one (cache.ts), each for one provider instance. */
  readonly #caches = new Map<string, CachingProvider>();
  /** Names disabled by configuration or disablePlugin (EngineOptions.disabledPlugins). */
  #disabledNames: Set<string>;

  constructor(options: EngineOptions) {
    super();
    this.#opts = resolveOptions(options);
    this.#logger = options.logger ?? silentLogger;
    this.socketPath = this.#opts.socketPath;
    this.#disabledNames = new Set(this.#opts.disabledPlugins);
    this.#admission = new RequestAdmission(this.#opts.limits.maxRequestsInFlight);
    for (const plugin of options.plugins ?? []) {
      const entry = new BuiltinEntry(plugin, this.#logger);
      if (this.#entries.has(entry.name)) {
        throw new EngineConfigError(
          `createEngine: two builtin plugins are named ${JSON.stringify(entry.name)}`,
        );
      }
      this.#entries.set(entry.name, entry);
      // Synchronous for a builtin: it is never listed enabled.
      if (this.#disabledNames.has(entry.name)) void entry.disable();
    }
    // A plugin that is not running as it was (crashed, stopped, disabled, gone) loses its cache.
    this.on('change', (info: PluginInfo) => {
      if (info.status !== 'running' || info.disabled) this.#dropCache(info.name);
    });
  }

  #dropCache(name: string): void {
    const cache = this.#caches.get(name);
    if (cache === undefined) return;
    cache.clear();
    this.#caches.delete(name);
  }

  /** `provider` behind its cache when its plugin has one configured; a new instance, a new cache. */
  #cached(provider: Provider): Provider {
    const options = this.#opts.cache.get(provider.name);
    if (options === undefined) return provider;
    const current = this.#caches.get(provider.name);
    if (current?.inner === provider) return current;
    current?.clear();
    const cache = cachingProvider(provider, options);
    this.#caches.set(provider.name, cache);
    return cache;
  }

  // --- lifecycle ---

  async start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state !== 'new') throw new RuntimeError(`start(): the engine is ${this.#state}`);
    // Before the state change: an already-aborted start() leaves the engine startable.
    options.signal?.throwIfAborted();
    this.#state = 'starting';
    // Aborting while plugins are still starting closes the engine at once (and start() rejects).
    const onAbort = () => void this.close();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (!this.#opts.allowCoreDumps) this.#noCoreDumps();
      this.#socket = await listenEngineSocket({
        engine: this,
        socketPath: this.socketPath,
        version: this.#opts.version,
        resolve: (pattern, signal, onPartial, onReport, noCache) =>
          this.#resolve(pattern, signal, onPartial, onReport, noCache),
        hijack: this.#opts.externalPlugins,
        acceptsPlugins: () => this.#state !== 'closing' && this.#state !== 'closed',
        onPlugin: (socket, peer) => this.#acceptExternal(socket, peer),
        access: createAccessControl({
          ...this.#opts.access,
          modules: () => this.accessModules().map(asAccessCheck),
        }),
        peer: loadPeerReader(),
        audit: this.#opts.audit,
        limits: this.#opts.limits,
        admit: () => this.#admission.enter(),
        logger: this.#logger,
      });
      // We own the socket now: what an engine killed before us left running is ended (state.ts).
      reapOrphanGroups(this.#opts.stateDir, this.#logger);
      const launched = await this.#discover();
      for (const plugin of launched) this.#entries.set(plugin.name, plugin);
      // Parallel start: ready once every plugin has been tried once (§7, issue).
      await Promise.all(launched.map((p) => (this.#disabledNames.has(p.name) ? p.disable() : p.start())));
      options.signal?.throwIfAborted();
    } catch (err) {
      await this.close();
      throw err;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (this.#state === 'starting') this.#state = 'running';
    this.emit('ready');
  }

  /** Best effort (issue 12 item 8): what could not be done is a warning, never a failed start. */
  #noCoreDumps(): void {
    const result = disableCoreDumps();
    for (const problem of result.problems) this.#logger.warn('core dumps not disabled', { reason: problem });
    this.#logger.debug('core dumps', {
      coreLimitZero: result.coreLimitZero,
      nonDumpable: result.nonDumpable,
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#state = 'closing';
    // Requests still being resolved fail now (unavailable) instead of holding every plugin's drain.
    this.#shutdown.abort(new ConnectError('the secrets engine is shutting down', Code.Unavailable));
    this.#socket?.stopAccepting();
    const stops = [...this.#connecting, ...this.#entries.values()].map((p) => p.stop('engine shut down'));
    // Parallel stop, every step bounded.
    await Promise.allSettled(stops);
    await this.#socket?.close();
    for (const name of [...this.#caches.keys()]) this.#dropCache(name);
    // After the socket: the last calls' records are written before the sink closes.
    await this.#opts.audit
      ?.close()
      .catch((err: unknown) =>
        this.#logger.error('cannot close the audit log', { error: (err as Error).message }),
      );
    this.#state = 'closed';
  }

  // --- the registry ---

  async #discover(): Promise<LaunchedPlugin[]> {
    const found = await this.#found();
    if (found === undefined) return [];
    const plugins: LaunchedPlugin[] = [];
    for (const discovered of found.plugins) {
      if (this.#entries.has(discovered.name)) {
        this.#logger.warn('skipping launched plugin: a builtin plugin has the same name', {
          name: discovered.name,
        });
        continue;
      }
      plugins.push(this.#newLaunched(discovered, found.env, found.pins));
    }
    return plugins;
  }

  /** What the plugins folder holds now, each with the identity of its executable. */
  async #found(): Promise<
    | { plugins: (DiscoveredPlugin & { identity: string })[]; env: Record<string, string>; pins: PinCheck }
    | undefined
  > {
    const dir = this.#opts.pluginsDir;
    if (!this.#opts.launchPlugins || dir === undefined) return undefined;
    const found = await discoverPlugins(dir, this.#logger);
    const env = pluginEnvironment(process.env, this.#opts.envAllowlist, this.#opts.pluginEnv);
    // Pinning (pins.ts): every launch, restarts included, first checks the executable's SHA-256.
    // One check for the engine's life: once on, pinning stays on (reloads included).
    if (this.#pins === undefined) {
      this.#pins = await PinCheck.forPluginsDir(dir);
      if (this.#pins.on) this.#logger.info('plugin pinning is on', { pinFile: this.#pins.pinFile });
    }
    const plugins = await Promise.all(
      found.map(async (p) => ({ ...p, identity: await executableIdentity(p.path) })),
    );
    return { plugins, env, pins: this.#pins };
  }

  #newLaunched(
    { name, path, identity }: DiscoveredPlugin & { identity: string },
    env: Record<string, string>,
    pins: PinCheck,
  ): LaunchedPlugin {
    const plugin: LaunchedPlugin = new LaunchedPlugin({
      name,
      path,
      env,
      registrationTimeoutMs: this.#opts.registrationTimeoutMs,
      requestTimeoutMs: this.#opts.requestTimeoutMs,
      shutdownTimeoutMs: this.#opts.shutdownTimeoutMs,
      callLimits: this.#callLimits(),
      restart: this.#opts.restart,
      stateDir: this.#opts.stateDir,
      session: this.#opts.pluginSession,
      engineName: this.#opts.name,
      engineVersion: this.#opts.version,
      logger: this.#logger,
      claim: (r) => this.#claim(r, plugin),
      onChange: () => this.emit('change', plugin.info()),
      canStart: () => this.#state === 'running' || this.#state === 'starting',
      verify: () => pins.check(name, path),
    });
    this.#identities.set(plugin, identity);
    return plugin;
  }

  /**
   * Reads the plugins folder again (issue 16 item 4, `serve` on SIGHUP): plugins added since are
   * launched, plugins whose executable is gone are stopped and forgotten, plugins whose
   * executable changed (another file, or the same file rewritten: device, inode, size, mtime) are
   * stopped and launched again, and the others are untouched (same process, same cache). A plugin
   * that is disabled stays disabled. Reloads run one at a time. Resolves once every new plugin was
   * tried once; rejects (EngineConfigError) when the folder cannot be read, changing nothing.
   */
  reloadPlugins(options: { signal?: AbortSignal } = {}): Promise<PluginReload> {
    const run = this.#reloading.then(() => this.#reload(options));
    this.#reloading = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #reload(options: { signal?: AbortSignal }): Promise<PluginReload> {
    options.signal?.throwIfAborted();
    if (this.#state !== 'running') throw new RuntimeError(`reloadPlugins(): the engine is ${this.#state}`);
    const result: PluginReload = { started: [], stopped: [], restarted: [], unchanged: [] };
    const found = await this.#found();
    const now = new Map((found?.plugins ?? []).map((p) => [p.name, p]));
    const starting: LaunchedPlugin[] = [];
    const stops: Promise<void>[] = [];
    const forget = (entry: LaunchedPlugin) => {
      this.#entries.delete(entry.name);
      this.#registrationOrder.delete(entry);
      this.#identities.delete(entry);
      this.#dropCache(entry.name);
    };
    for (const entry of [...this.#entries.values()]) {
      if (!(entry instanceof LaunchedPlugin)) continue;
      const next = now.get(entry.name);
      if (next === undefined) {
        result.stopped.push(entry.name);
        forget(entry);
        stops.push(
          entry.stop('removed from the plugins folder').then(() => void this.emit('change', entry.info())),
        );
      } else if (next.identity !== this.#identities.get(entry)) {
        result.restarted.push(entry.name);
        const disabled = entry.info().disabled;
        forget(entry);
        stops.push(
          entry.stop('its executable changed').then(async () => {
            if (this.#state !== 'running') return;
            const plugin = this.#newLaunched(next, found!.env, found!.pins);
            this.#entries.set(plugin.name, plugin);
            if (disabled) await plugin.disable();
            else await plugin.start();
          }),
        );
        now.delete(entry.name);
      } else {
        result.unchanged.push(entry.name);
        now.delete(entry.name);
      }
    }
    for (const discovered of now.values()) {
      const existing = this.#entries.get(discovered.name);
      if (existing !== undefined) {
        this.#logger.warn(
          `skipping launched plugin: ${existing.kind === 'builtin' ? 'a builtin' : 'an external'} plugin has the same name`,
          {
            name: discovered.name,
          },
        );
        continue;
      }
      const plugin = this.#newLaunched(discovered, found!.env, found!.pins);
      this.#entries.set(plugin.name, plugin);
      result.started.push(plugin.name);
      if (this.#disabledNames.has(plugin.name)) stops.push(plugin.disable().then(() => undefined));
      else starting.push(plugin);
    }
    await Promise.all([...stops, ...starting.map((p) => p.start())]);
    for (const list of Object.values(result)) list.sort();
    this.#logger.info('plugins folder reloaded', {
      started: result.started.join(',') || '-',
      stopped: result.stopped.join(',') || '-',
      restarted: result.restarted.join(',') || '-',
      unchanged: result.unchanged.length,
    });
    return result;
  }

  #acceptExternal(socket: Socket, peer: ExternalPluginInit['peer']): void {
    const plugin = new ExternalPlugin(socket, {
      peer,
      registrationTimeoutMs: this.#opts.registrationTimeoutMs,
      requestTimeoutMs: this.#opts.requestTimeoutMs,
      shutdownTimeoutMs: this.#opts.shutdownTimeoutMs,
      session: this.#opts.pluginSession,
      callLimits: this.#callLimits(),
      engineName: this.#opts.name,
      engineVersion: this.#opts.version,
      logger: this.#logger,
      claim: (r, p) => {
        if (this.#disabledNames.has(r.name)) {
          throw new ConnectError(
            `plugin ${JSON.stringify(r.name)} is disabled in this engine; enable it first (secrets-engine plugins enable ${r.name})`,
            Code.FailedPrecondition,
          );
        }
        this.#claim(r, p);
        // In the same tick as the check: a concurrent duplicate sees it.
        this.#entries.set(r.name, p);
      },
      onRegistered: (p) => {
        this.#connecting.delete(p);
        this.emit('change', p.info());
      },
      onClosed: (p, registered) => {
        this.#connecting.delete(p);
        this.#registrationOrder.delete(p);
        if (registered && this.#entries.get(p.name) === p) {
          this.#entries.delete(p.name);
          this.emit('change', p.info());
        }
      },
    });
    this.#connecting.add(plugin);
  }

  #callLimits() {
    const { maxCallsPerPlugin, maxQueuedPerPlugin } = this.#opts.limits;
    return { maxInFlight: maxCallsPerPlugin, maxQueued: maxQueuedPerPlugin };
  }

  /** Names are unique across builtin, launched and external plugins (§5.1 step 4, refused in the response). */
  #claim(registration: Registration, owner: PluginEntry): void {
    const existing = this.#entries.get(registration.name);
    if (existing !== undefined && existing !== owner) {
      throw new ConnectError(
        `plugin ${JSON.stringify(registration.name)} already exists`,
        Code.AlreadyExists,
      );
    }
    // The claim is the registration's last check: from here on it is accepted.
    this.#registrationOrder.delete(owner);
    this.#registrationOrder.add(owner);
  }

  #entry(name: string): PluginEntry {
    const entry = this.#entries.get(name);
    if (entry === undefined) throw new PluginNotFoundError(name);
    return entry;
  }

  // --- queries, resolution and management ---

  listPlugins(): PluginInfo[] {
    return [...this.#entries.values()].map((e) => e.info()).sort(byName);
  }

  accessModules(): readonly AccessModule[] {
    const modules: AccessModule[] = [];
    for (const entry of this.#registrationOrder) {
      if (entry.accessModule !== undefined) modules.push(entry.accessModule);
    }
    return modules;
  }

  #resolve(
    pattern: string,
    callerSignal?: AbortSignal,
    onPartial?: (failures: readonly PluginFailure[]) => void,
    onReport?: (report: ResolutionReport) => void,
    noCache?: boolean,
  ): Promise<ProtoEnvelope[]> {
    const providers: Provider[] = [];
    for (const entry of this.#entries.values()) {
      const running = entry.provider;
      if (running !== undefined) providers.push(this.#cached(running));
      else {
        const failing = notRunning(entry);
        if (failing !== undefined) providers.push(failing);
      }
    }
    // No AbortSignal.any: the resolver's one controller per request listens to both (issue 14).
    return resolveSecrets(pattern, providers, {
      requestTimeoutMs: this.#opts.requestTimeoutMs,
      logger: this.#logger,
      shutdownSignal: this.#shutdown.signal,
      ...(callerSignal === undefined ? {} : { signal: callerSignal }),
      ...(onPartial === undefined ? {} : { onPartial }),
      ...(onReport === undefined ? {} : { onReport }),
      ...(noCache === true ? { noCache } : {}),
    });
  }

  async getSecrets(
    pattern: string,
    options: { signal?: AbortSignal; noCache?: boolean } = {},
  ): Promise<Envelope[]> {
    const out: Envelope[] = [];
    const messages = await this.#admission.run(() =>
      this.#resolve(pattern, options.signal, undefined, undefined, options.noCache),
    );
    for (const message of messages) {
      try {
        out.push(envelopeFromProto(message));
      } catch (err) {
        // E.g. a time no Date can hold: this envelope only, never the whole request (the socket
        // passes it through as Go does).
        this.#logger.warn('dropping an envelope the engine cannot represent', {
          plugin: message.provider,
          id: message.id,
          error: (err as Error).message,
        });
      }
    }
    if (out.length === 0) throw notFound();
    return out;
  }

  async enablePlugin(name: string): Promise<void> {
    const wasDisabled = this.#disabledNames.delete(name);
    const entry = this.#entries.get(name);
    if (entry === undefined) {
      if (wasDisabled) return;
      throw new PluginNotFoundError(name);
    }
    if (await entry.enable()) this.emit('change', entry.info());
  }

  async disablePlugin(name: string): Promise<void> {
    const entry = this.#entry(name);
    this.#disabledNames.add(name);
    if (await entry.disable()) this.emit('change', entry.info());
  }

  async setDisabledPlugins(
    names: readonly string[],
    options: { signal?: AbortSignal } = {},
  ): Promise<{ disabled: string[]; enabled: string[] }> {
    options.signal?.throwIfAborted();
    const next = resolveDisabled(names, 'setDisabledPlugins: names');
    const previous = this.#disabledNames;
    this.#disabledNames = next;
    const disabled: string[] = [];
    const enabled: string[] = [];
    const changes: Promise<void>[] = [];
    for (const entry of this.#entries.values()) {
      if (next.has(entry.name)) {
        changes.push(
          entry.disable().then((changed) => {
            if (!changed) return;
            disabled.push(entry.name);
            this.emit('change', entry.info());
          }),
        );
      } else if (previous.has(entry.name)) {
        changes.push(
          entry.enable().then((changed) => {
            if (!changed) return;
            enabled.push(entry.name);
            this.emit('change', entry.info());
          }),
        );
      }
    }
    await Promise.all(changes);
    return { disabled: disabled.sort(), enabled: enabled.sort() };
  }

  disabledPlugins(): string[] {
    return [...this.#disabledNames].sort();
  }
}

/**
 * A launched secrets provider that crashed (restarting, or given up on) still has the pattern it
 * registered: a request that overlaps it may concern a secret it holds, so its part fails with
 * `unavailable` naming it, never a silent `not_found` (issue 12 item 6: a plugin that died under
 * load). A disabled or stopped plugin was taken out on purpose and is not asked.
 */
function notRunning(entry: PluginEntry): Provider | undefined {
  if (entry.kind !== 'launched') return undefined;
  const info = entry.info();
  if (info.disabled || info.role !== 'secrets-provider' || info.pattern === undefined) return undefined;
  if (info.status !== 'crashed' && info.status !== 'retries-exceeded') return undefined;
  const error = new ConnectError(`not running: ${info.statusMessage}`, Code.Unavailable);
  return {
    name: info.name,
    version: info.version ?? '',
    pattern: info.pattern,
    getSecrets: () => Promise.reject(error),
  };
}

/** The platform's peer reader, or why there is none (then every call is refused: fail closed). */
function loadPeerReader() {
  try {
    return peerReader();
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * An access-control module as a step of the chain: `CheckAccess` for GetSecrets, `Authorize` for a
 * preflight (its expiry is not kept: every call asks again); the management and version calls are
 * the policy's alone. The caller travels in the §10.1 canonical form.
 */
function asAccessCheck(module: AccessModule): AccessCheck {
  return {
    name: module.name,
    async check(caller, request, signal) {
      if (request.method === 'GetSecrets')
        return module.checkAccess(toRequester(caller), request.pattern, signal);
      if (request.method === 'Authorize')
        return (await module.authorize(toRequester(caller), request.patterns, signal)).allow;
      return true;
    },
  };
}
