// The engine: plugin lifecycle (discovery, launch, registration, supervision, shutdown), external
// plugins through /hijack, builtin providers, resolution, and the engine socket.
import { EventEmitter } from 'node:events';
import { readdir, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  attachHijackHandler,
  createConnectHandler,
  createMuxSession,
  type Logger,
  type MuxSession,
  serveConnect,
  silentLogger,
} from '@secrets-engine/ipc';
import { healthv1, pluginsv1, resolverv1 } from '@secrets-engine/proto';
import {
  defaultSocketPath,
  type Envelope,
  type EnvelopeInit,
  envelopeFromProto,
  envelopesToProto,
  isNotFoundError,
  parsePattern,
  parsePluginName,
  parseVersion,
  type SecretPattern,
} from '@secrets-engine/secrets';
import { EngineAlreadyRunningError, EngineConfigError, PluginNotFoundError, RuntimeError } from './errors.js';
import { LaunchedPlugin, type RestartPolicy, type RunStatus, runStatusToProto } from './launched.js';
import { notFound, type ProtoEnvelope, type Provider, requestShutdown, sessionProvider } from './provider.js';
import { createRegistrationEndpoint, type Registration } from './registration.js';
import { resolveSecrets } from './resolver.js';
import { prepareSocketPath, removeSocket, restrictSocket, socketInode } from './socket.js';

/** An in-process provider with the same interface as a plugin. */
export interface BuiltinPlugin {
  name: string;
  /** v-prefixed semver. */
  version: string;
  pattern: string;
  getSecrets(
    pattern: SecretPattern,
    options: { signal: AbortSignal },
  ): Iterable<Envelope | EnvelopeInit> | Promise<Iterable<Envelope | EnvelopeInit>>;
}

export interface EngineOptions {
  /** Where the engine listens. Default: `$SECRETS_ENGINE_SOCKET`, else the default path. */
  socketPath?: string;
  /** Folder of plugin executables to launch (protocol.md §1.1). None by default. */
  pluginsDir?: string;
  /** In-process providers. */
  plugins?: BuiltinPlugin[];
  /** Launch the plugins found in `pluginsDir`. Default true. */
  launchPlugins?: boolean;
  /** Accept plugins started by hand through /hijack. Default true. */
  externalPlugins?: boolean;
  /** Registration deadline of a plugin, from its launch or connection. Default 5 s. */
  registrationTimeoutMs?: number;
  /** Deadline of each plugin's part of a request. Default 60 s (providers may prompt a person). */
  requestTimeoutMs?: number;
  /** Bound of each shutdown step (Shutdown RPC, drain, signal, kill). Default 2 s. */
  shutdownTimeoutMs?: number;
  /** Restart policy of launched plugins. */
  restart?: Partial<RestartPolicy>;
  /**
   * Environment variables a launched plugin inherits from the engine, by name; a trailing `*`
   * matches a prefix. Default PATH, HOME, USER, LANG, TMPDIR, XDG_*. The launch variable is always set.
   */
  envAllowlist?: string[];
  /** Extra environment for launched plugins. */
  pluginEnv?: Record<string, string>;
  /** Engine name and version reported to plugins and clients. */
  name?: string;
  version?: string;
  logger?: Logger;
}

export type PluginKind = 'builtin' | 'launched' | 'external';

/** What the engine knows about one plugin. */
export interface PluginInfo {
  name: string;
  kind: PluginKind;
  version: string | undefined;
  pattern: SecretPattern | undefined;
  disabled: boolean;
  status: RunStatus;
  /** Readable reason for crashed and retries-exceeded (and stopped) states. */
  statusMessage: string;
  restarts: number;
  pid: number | undefined;
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
  getSecrets(pattern: string, options?: { signal?: AbortSignal }): Promise<Envelope[]>;
  enablePlugin(name: string, options?: { signal?: AbortSignal }): Promise<void>;
  disablePlugin(name: string, options?: { signal?: AbortSignal }): Promise<void>;
  on<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): this;
  off<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): this;
  [Symbol.asyncDispose](): Promise<void>;
}

export const ENGINE_NAME = 'secrets-engine';
export const ENGINE_VERSION = 'v0.1.0';
const DEFAULT_ALLOWLIST = ['PATH', 'HOME', 'USER', 'LANG', 'TMPDIR', 'XDG_*'];

export function createEngine(options: EngineOptions = {}): Engine {
  return new EngineImpl(options);
}

/** What the engine records for a builtin or external plugin (LaunchedPlugin keeps the same fields). */
interface EntryBase {
  name: string;
  status: RunStatus;
  statusMessage: string;
  disabled: boolean;
  registration: Registration;
  provider: Provider | undefined;
  restarts: number;
}

interface BuiltinEntry extends EntryBase {
  kind: 'builtin';
}

interface ExternalEntry extends EntryBase {
  kind: 'external';
  session: MuxSession;
}

type Entry = BuiltinEntry | ExternalEntry | LaunchedPlugin;

class EngineImpl extends EventEmitter implements Engine {
  readonly socketPath: string;
  readonly #opts: Required<
    Pick<
      EngineOptions,
      | 'registrationTimeoutMs'
      | 'requestTimeoutMs'
      | 'shutdownTimeoutMs'
      | 'launchPlugins'
      | 'externalPlugins'
      | 'name'
      | 'version'
    >
  > & { restart: RestartPolicy; envAllowlist: string[] };
  readonly #options: EngineOptions;
  readonly #logger: Logger;
  readonly #entries = new Map<string, Entry>();
  #pending = new Set<MuxSession>();
  #server: Server | undefined;
  #inode: number | undefined;
  #state: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  #closing: Promise<void> | undefined;
  readonly #shutdown = new AbortController();

  constructor(options: EngineOptions) {
    super();
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.socketPath = options.socketPath ?? defaultSocketPath();
    const positive = (name: string, v: number | undefined, d: number, allowZero = false) => {
      if (v === undefined) return d;
      if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
        throw new EngineConfigError(
          `createEngine: ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of ms, got ${v}`,
        );
      }
      return v;
    };
    const restart: RestartPolicy = {
      initialDelayMs: positive('restart.initialDelayMs', options.restart?.initialDelayMs, 2_000, true),
      multiplier: options.restart?.multiplier ?? 1.5,
      maxDelayMs: positive('restart.maxDelayMs', options.restart?.maxDelayMs, 60_000, true),
      maxRetries: options.restart?.maxRetries ?? 5,
      healthyAfterMs: positive('restart.healthyAfterMs', options.restart?.healthyAfterMs, 10_000, true),
    };
    if (!(restart.multiplier >= 1))
      throw new EngineConfigError(`createEngine: restart.multiplier must be >= 1, got ${restart.multiplier}`);
    if (!Number.isInteger(restart.maxRetries) || restart.maxRetries < 0) {
      throw new EngineConfigError(
        `createEngine: restart.maxRetries must be a whole number >= 0, got ${restart.maxRetries}`,
      );
    }
    let version: string;
    try {
      version = parseVersion(options.version ?? ENGINE_VERSION);
    } catch (err) {
      throw new EngineConfigError(`createEngine: version: ${(err as Error).message}`, { cause: err });
    }
    this.#opts = {
      registrationTimeoutMs: positive('registrationTimeoutMs', options.registrationTimeoutMs, 5_000),
      requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 60_000, true),
      shutdownTimeoutMs: positive('shutdownTimeoutMs', options.shutdownTimeoutMs, 2_000),
      launchPlugins: options.launchPlugins ?? true,
      externalPlugins: options.externalPlugins ?? true,
      name: options.name ?? ENGINE_NAME,
      version,
      restart,
      envAllowlist: options.envAllowlist ?? DEFAULT_ALLOWLIST,
    };
    for (const builtin of options.plugins ?? []) this.#addBuiltin(builtin);
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
      await this.#listen();
      const launched =
        this.#opts.launchPlugins && this.#options.pluginsDir !== undefined ? await this.#discover() : [];
      for (const plugin of launched) this.#entries.set(plugin.name, plugin);
      // Parallel start: ready once every plugin has been tried once (§7, issue).
      await Promise.all(launched.map((p) => p.start()));
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
    const server = this.#server;
    const serverClosed =
      server === undefined
        ? Promise.resolve()
        : new Promise<void>((resolve) => server.close(() => resolve()));
    server?.closeIdleConnections();
    const stops: Promise<unknown>[] = [];
    for (const session of this.#pending)
      stops.push(session.close({ timeoutMs: this.#opts.shutdownTimeoutMs }));
    for (const entry of this.#entries.values()) {
      if (entry instanceof LaunchedPlugin) stops.push(entry.stop('engine shut down'));
      else if (entry.kind === 'external') stops.push(this.#stopExternal(entry));
      else entry.provider = undefined;
    }
    // Parallel stop, every step bounded.
    await Promise.allSettled(stops);
    server?.closeAllConnections();
    await serverClosed;
    removeSocket(this.socketPath, this.#inode);
    this.#state = 'closed';
  }

  async #listen(): Promise<void> {
    await prepareSocketPath(this.socketPath);
    const handler = createConnectHandler({
      routes: (router) => this.#publicRoutes(router),
      fallback: (req, res) =>
        publicFallback(req as IncomingMessage, res as ServerResponse, this.#opts.externalPlugins),
    });
    const server = createServer(handler);
    // Longer than Go clients' 90 s idle timeout, so a client never reuses a connection we closed.
    server.keepAliveTimeout = 120_000;
    server.headersTimeout = 30_000;
    server.requestTimeout = 0;
    attachHijackHandler(server, {
      enabled: () => this.#opts.externalPlugins && this.#state !== 'closing' && this.#state !== 'closed',
      onConnection: (socket) => this.#acceptExternal(socket),
    });
    server.on('clientError', (_err, socket: Socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(
          err.code === 'EADDRINUSE'
            ? // A live listener (an abstract socket has no file to probe, or one won the race).
              new EngineAlreadyRunningError(this.socketPath, { cause: err })
            : new RuntimeError(`cannot listen on ${this.socketPath}: ${err.message}`, { cause: err }),
        );
      });
      server.listen(this.socketPath.startsWith('@') ? `\0${this.socketPath.slice(1)}` : this.socketPath, () =>
        resolve(),
      );
    });
    this.#server = server;
    restrictSocket(this.socketPath);
    this.#inode = socketInode(this.socketPath);
    this.#logger.info('engine listening', { socket: this.socketPath });
  }

  async #discover(): Promise<LaunchedPlugin[]> {
    const dir = this.#options.pluginsDir!;
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.#logger.warn('plugin directory does not exist', { dir });
        return [];
      }
      throw new EngineConfigError(`failed to discover plugins in ${dir}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const env = this.#pluginEnv();
    const plugins: LaunchedPlugin[] = [];
    for (const file of names) {
      const path = join(dir, file);
      let info: Awaited<ReturnType<typeof stat>>;
      try {
        info = await stat(path);
      } catch {
        continue;
      }
      if (!info.isFile() || (info.mode & 0o111) === 0) continue;
      const name = file.endsWith('.exe') ? file.slice(0, -4) : file;
      try {
        parsePluginName(name);
      } catch (err) {
        this.#logger.warn('skipping plugin with an invalid name', { file, error: (err as Error).message });
        continue;
      }
      if (this.#entries.has(name)) {
        this.#logger.warn('skipping launched plugin: a builtin plugin has the same name', { name });
        continue;
      }
      plugins.push(this.#launchedPlugin(name, path, env));
    }
    return plugins;
  }

  #launchedPlugin(name: string, path: string, env: Record<string, string>): LaunchedPlugin {
    const plugin: LaunchedPlugin = new LaunchedPlugin({
      name,
      path,
      env,
      registrationTimeoutMs: this.#opts.registrationTimeoutMs,
      requestTimeoutMs: this.#opts.requestTimeoutMs,
      shutdownTimeoutMs: this.#opts.shutdownTimeoutMs,
      restart: this.#opts.restart,
      engineName: this.#opts.name,
      engineVersion: this.#opts.version,
      logger: this.#logger,
      claim: (r) => this.#claim(r, plugin),
      onChange: () => this.emit('change', infoOf(plugin)),
    });
    return plugin;
  }

  #pluginEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value === undefined) continue;
      const allowed = this.#opts.envAllowlist.some((p) =>
        p.endsWith('*') ? key.startsWith(p.slice(0, -1)) : key === p,
      );
      if (allowed) env[key] = value;
    }
    return { ...env, ...(this.#options.pluginEnv ?? {}) };
  }

  /** Names are unique across builtin, launched and external plugins (§5.1 step 4, refused in the response). */
  #claim(registration: Registration, owner: Entry | 'external'): void {
    const existing = this.#entries.get(registration.name);
    if (existing !== undefined && existing !== owner) {
      throw new ConnectError(
        `plugin ${JSON.stringify(registration.name)} already exists`,
        Code.AlreadyExists,
      );
    }
  }

  // --- builtin plugins ---

  #addBuiltin(plugin: BuiltinPlugin): void {
    let registration: Registration;
    try {
      registration = {
        name: parsePluginName(plugin.name),
        version: parseVersion(plugin.version),
        pattern: parsePattern(plugin.pattern),
        protocol: 'plugins.v1',
      };
    } catch (err) {
      throw new EngineConfigError(
        `createEngine: builtin plugin ${JSON.stringify(plugin.name)}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    if (typeof plugin.getSecrets !== 'function') {
      throw new EngineConfigError(
        `createEngine: builtin plugin ${JSON.stringify(plugin.name)}: getSecrets must be a function`,
      );
    }
    if (this.#entries.has(registration.name)) {
      throw new EngineConfigError(
        `createEngine: two builtin plugins are named ${JSON.stringify(registration.name)}`,
      );
    }
    const entry: BuiltinEntry = {
      kind: 'builtin',
      name: registration.name,
      status: 'running',
      statusMessage: '',
      disabled: false,
      registration,
      provider: builtinProvider(plugin, registration, this.#logger.child({ plugin: registration.name })),
      restarts: 0,
    };
    this.#entries.set(entry.name, entry);
  }

  // --- external plugins ---

  #acceptExternal(socket: Socket): void {
    const logger = this.#logger.child({ external: true });
    const session = createMuxSession(socket, {
      role: 'server',
      logger,
      closeTimeoutMs: this.#opts.shutdownTimeoutMs,
    });
    this.#pending.add(session);
    let entry: ExternalEntry | undefined;
    const endpoint = createRegistrationEndpoint({
      engineName: this.#opts.name,
      engineVersion: this.#opts.version,
      requestTimeoutMs: this.#opts.requestTimeoutMs,
      claim: (r) => {
        this.#claim(r, 'external');
        entry = {
          kind: 'external',
          name: r.name,
          status: 'running',
          statusMessage: '',
          disabled: false,
          registration: r,
          provider: sessionProvider(session, r),
          session,
          restarts: 0,
        };
        // Claimed in the same tick as the check: a concurrent duplicate sees it.
        this.#entries.set(r.name, entry);
      },
    });
    serveConnect(session, { routes: (router) => endpoint.routes(router), logger });
    const timer = setTimeout(() => {
      if (entry === undefined) {
        logger.warn('external plugin did not register in time, closing its connection', {
          timeoutMs: this.#opts.registrationTimeoutMs,
        });
        void session.close({ timeoutMs: 100 });
      }
    }, this.#opts.registrationTimeoutMs);
    endpoint.registered.then((r) => {
      clearTimeout(timer);
      this.#pending.delete(session);
      logger.info('external plugin registered', { plugin: r.name, version: r.version, pattern: r.pattern });
      if (entry !== undefined) this.emit('change', infoOf(entry));
    });
    void session.closed.then((reason) => {
      clearTimeout(timer);
      this.#pending.delete(session);
      if (entry !== undefined && this.#entries.get(entry.name) === entry) {
        this.#entries.delete(entry.name);
        entry.provider = undefined;
        entry.status = 'stopped';
        entry.statusMessage = 'disconnected';
        logger.info('external plugin left', { plugin: entry.name, reason: reason.kind });
        this.emit('change', infoOf(entry));
      }
    });
  }

  async #stopExternal(entry: ExternalEntry): Promise<void> {
    const t = this.#opts.shutdownTimeoutMs;
    if (entry.session.status === 'open') {
      try {
        await requestShutdown(entry.session, entry.registration.protocol, t);
      } catch {
        // the plugin may be gone already
      }
    }
    await entry.session.close({ timeoutMs: t });
  }

  // --- queries and management ---

  listPlugins(): PluginInfo[] {
    return [...this.#entries.values()]
      .map(infoOf)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  #providers(): Provider[] {
    const out: Provider[] = [];
    for (const entry of this.#entries.values()) {
      if (!entry.disabled && entry.provider !== undefined) out.push(entry.provider);
    }
    return out;
  }

  async #resolve(pattern: string, callerSignal?: AbortSignal): Promise<ProtoEnvelope[]> {
    const options = { requestTimeoutMs: this.#opts.requestTimeoutMs, logger: this.#logger };
    const signal =
      callerSignal === undefined
        ? this.#shutdown.signal
        : AbortSignal.any([callerSignal, this.#shutdown.signal]);
    return resolveSecrets(pattern, this.#providers(), { ...options, signal });
  }

  async getSecrets(pattern: string, options: { signal?: AbortSignal } = {}): Promise<Envelope[]> {
    const out: Envelope[] = [];
    for (const message of await this.#resolve(pattern, options.signal)) {
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
    const entry = this.#entry(name);
    // Enabling a launched plugin that gave up (RETRIES_EXCEEDED) starts it again with a fresh count.
    const gaveUp = entry instanceof LaunchedPlugin && entry.status === 'retries-exceeded';
    if (!entry.disabled && !gaveUp) return;
    entry.disabled = false;
    this.#logger.info('plugin enabled', { plugin: name });
    if (entry instanceof LaunchedPlugin) {
      if (this.#state === 'running' || this.#state === 'starting') await entry.restartLoop();
    } else if (entry.kind === 'builtin') {
      entry.status = 'running';
      entry.statusMessage = '';
    }
    this.emit('change', infoOf(entry));
  }

  async disablePlugin(name: string): Promise<void> {
    const entry = this.#entry(name);
    if (entry.disabled) return;
    entry.disabled = true;
    this.#logger.info('plugin disabled', { plugin: name });
    if (entry instanceof LaunchedPlugin) {
      await entry.stop('disabled');
    } else if (entry.kind === 'builtin') {
      entry.status = 'stopped';
      entry.statusMessage = 'disabled';
    }
    this.emit('change', infoOf(entry));
  }

  #entry(name: string): Entry {
    const entry = this.#entries.get(name);
    if (entry === undefined) throw new PluginNotFoundError(name);
    return entry;
  }

  // --- the engine socket (protocol.md §4.1, §4.2) ---

  #publicRoutes(router: Parameters<Parameters<typeof createConnectHandler>[0]['routes']>[0]): void {
    router.service(resolverv1.ResolverService, {
      getSecrets: async (req, ctx) =>
        create(resolverv1.GetSecretsResponseSchema, {
          envelopes: await this.#resolve(req.pattern, ctx.signal),
        }),
    });
    router.service(pluginsv1.PluginManagementService, {
      listPlugins: () =>
        create(pluginsv1.ListPluginsResponseSchema, {
          plugins: this.listPlugins().map((p) =>
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
        await this.#manage(() => this.enablePlugin(req.name));
        return {};
      },
      disablePlugin: async (req) => {
        await this.#manage(() => this.disablePlugin(req.name));
        return {};
      },
    });
    // OLD clients (protocol.md §4.1): registered plugins only.
    router.service(resolverv1.ListService, {
      listPlugins: () =>
        create(resolverv1.ListPluginsResponseSchema, {
          plugins: this.listPlugins()
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
      getVersion: () => ({ version: this.#opts.version, date: '', commitHash: '' }),
    });
  }

  async #manage(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (err instanceof PluginNotFoundError) throw new ConnectError(err.message, Code.NotFound);
      throw err;
    }
  }
}

function publicFallback(req: IncomingMessage, res: ServerResponse, hijackEnabled: boolean): void {
  const path = (req.url ?? '').split('?')[0];
  if (path === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '2' });
    res.end('ok');
    return;
  }
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
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '19' });
  res.end('404 page not found\n');
}

function infoOf(entry: Entry): PluginInfo {
  const registration = entry.registration;
  return {
    name: entry.name,
    kind: entry instanceof LaunchedPlugin ? 'launched' : entry.kind,
    version: registration?.version,
    pattern: registration?.pattern,
    disabled: entry.disabled,
    status: entry.status,
    statusMessage: entry.statusMessage,
    restarts: entry.restarts,
    pid: entry instanceof LaunchedPlugin ? entry.pid : undefined,
  };
}

/** A builtin provider: a throw or a rejected promise is this plugin's failure, never the engine's. */
function builtinProvider(plugin: BuiltinPlugin, registration: Registration, logger: Logger): Provider {
  return {
    name: registration.name,
    version: registration.version,
    pattern: registration.pattern,
    async getSecrets(pattern, options) {
      let result: Iterable<Envelope | EnvelopeInit>;
      try {
        result = await plugin.getSecrets(pattern, { signal: options.signal });
      } catch (err) {
        if (isNotFoundError(err)) throw notFound();
        if (err instanceof ConnectError) throw err;
        throw new ConnectError(
          `failed to get secret ${JSON.stringify(pattern)}: ${(err as Error)?.message ?? String(err)}`,
          Code.Internal,
        );
      }
      const out = envelopesToProto(result ?? [], (err) =>
        logger.warn('dropping an invalid envelope', { error: err.message }),
      );
      if (out.length === 0) throw notFound();
      return out;
    },
  };
}
