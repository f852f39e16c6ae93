// One engine-launched plugin: launch with the fd-3 channel (protocol.md §1.2), wait for its single
// registration (§5.1), watch the process, restart it with exponential backoff, and stop it with
// Shutdown RPC → drain → signal to the process group → kill, every step bounded (§7.1). No orphan:
// the plugin runs in its own process group, and stop() does not return before it is reaped.
import type { ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { create } from '@bufbuild/protobuf';
import { ConnectError } from '@connectrpc/connect';
import {
  createMuxSession,
  killProcessGroup,
  type Logger,
  launchPlugin,
  type MuxSession,
  serveConnect,
} from '@secrets-engine/ipc';
import { SMALL_REQUEST_MAX_BYTES } from '@secrets-engine/ipc/internal';
import { pluginsv1 } from '@secrets-engine/proto';
import { type AccessModule, sessionAccessModule } from './access-module.js';
import type { PluginEntry, PluginInfo } from './entry.js';
import type { PluginSessionOptions } from './options.js';
import { openPluginLog, type PluginLogFollower } from './plugin-log.js';
import { type CallLimits, type Provider, requestShutdown, sessionProvider } from './provider.js';
import { createRegistrationEndpoint, type Registration } from './registration.js';
import { ensurePrivateDir, forgetGroup, recordGroup } from './state.js';

export type RunStatus = 'running' | 'stopped' | 'crashed' | 'retries-exceeded';

export interface RestartPolicy {
  /** First delay before a restart. Default 2000 ms (Docker's), randomized ±50%. */
  initialDelayMs: number;
  /** Growth of the delay per consecutive failure. Default 1.5. */
  multiplier: number;
  /** Largest delay. Default 60 s. */
  maxDelayMs: number;
  /** Consecutive failed starts before giving up (RETRIES_EXCEEDED); 0 = never give up. Default 5. */
  maxRetries: number;
  /** A plugin that registered and stayed up this long resets the failure count. Default 10 s. */
  healthyAfterMs: number;
}

export interface LaunchedPluginInit {
  name: string;
  path: string;
  env: Record<string, string>;
  registrationTimeoutMs: number;
  requestTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Calls open on the plugin's connection at once, and waiting (admission.ts). */
  callLimits: CallLimits;
  restart: RestartPolicy;
  /** The engine's state folder: the plugin's log file and process-group record (state.ts). */
  stateDir: string;
  /** Limits of the plugin's session (EngineOptions.pluginSession). */
  session: PluginSessionOptions;
  engineName: string;
  engineVersion: string;
  logger: Logger;
  /** Claims the registered name (throws ConnectError already_exists on a clash). */
  claim(registration: Registration): void;
  /** Called on every status change. */
  onChange(): void;
  /** Whether the engine is up, so that enable() may start the plugin again. */
  canStart(): boolean;
  /**
   * Run before every launch, restarts included: undefined to launch, else why the plugin must not
   * be launched (pinning, pins.ts). The plugin is then `stopped` ("not launched: …") and not
   * restarted until it is enabled again.
   */
  verify?(): Promise<string | undefined>;
}

interface Attempt {
  child: ChildProcess;
  session: MuxSession;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
  registration: Registration | undefined;
  registeredAt: number | undefined;
  /** The plugin's output file, followed into the engine log until the process is gone. */
  output: PluginLogFollower;
}

export class LaunchedPlugin implements PluginEntry {
  readonly name: string;
  readonly kind = 'launched';
  status: RunStatus = 'stopped';
  statusMessage = 'not started';
  registration: Registration | undefined;
  restarts = 0;
  /** The last failed attempt, kept once the plugin runs again: `plugins` shows it (issue 15 item 5). */
  #lastFailure: { message: string; at: Date } | undefined;
  #provider: Provider | undefined;
  #accessModule: AccessModule | undefined;
  #disabled = false;
  /** The last attempt was refused by verify(): enable() tries again. */
  #refused = false;
  readonly #init: LaunchedPluginInit;
  readonly #logger: Logger;
  #attempt: Attempt | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wakeUp: (() => void) | undefined;
  #firstTry: { promise: Promise<void>; resolve: () => void };

  constructor(init: LaunchedPluginInit) {
    this.name = init.name;
    this.#init = init;
    this.#logger = init.logger.child({ plugin: init.name });
    let resolve!: () => void;
    this.#firstTry = { promise: new Promise<void>((r) => (resolve = r)), resolve };
  }

  get pid(): number | undefined {
    return this.#attempt?.child.pid;
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
      restarts: this.restarts,
      pid: this.pid,
    };
  }

  /**
   * Enabling a plugin that gave up (RETRIES_EXCEEDED) or was not launched (verify refused it)
   * starts it again with a fresh count.
   */
  async enable(): Promise<boolean> {
    if (!this.#disabled && this.status !== 'retries-exceeded' && !(this.#refused && this.#loop === undefined))
      return false;
    this.#disabled = false;
    this.#init.logger.info('plugin enabled', { plugin: this.name });
    if (this.#init.canStart()) await this.restartLoop();
    return true;
  }

  async disable(): Promise<boolean> {
    if (this.#disabled) return false;
    this.#disabled = true;
    this.#init.logger.info('plugin disabled', { plugin: this.name });
    await this.stop('disabled');
    return true;
  }

  /** Starts the supervision loop. Resolves once the first attempt registered or failed. */
  start(): Promise<void> {
    if (this.#loop === undefined) {
      this.#stopping = false;
      this.#loop = this.#run().finally(() => {
        this.#loop = undefined;
      });
    }
    return this.#firstTry.promise;
  }

  /** Stops the plugin (and the supervision loop). Resolves once the process is reaped. */
  async stop(reason = 'stopped by the engine'): Promise<void> {
    this.#stopping = true;
    this.#wakeUp?.();
    const attempt = this.#attempt;
    if (attempt !== undefined) await this.#shutdown(attempt);
    await this.#loop;
    this.#provider = undefined;
    this.#accessModule = undefined;
    this.#set('stopped', reason);
    this.#firstTry.resolve();
  }

  /** Restart after a disable/enable or a RETRIES_EXCEEDED: a fresh failure count. */
  restartLoop(): Promise<void> {
    let resolve!: () => void;
    this.#firstTry = { promise: new Promise<void>((r) => (resolve = r)), resolve };
    return this.start();
  }

  #set(status: RunStatus, message: string): void {
    this.status = status;
    this.statusMessage = message;
    this.#init.onChange();
  }

  async #run(): Promise<void> {
    const policy = this.#init.restart;
    let failures = 0;
    while (!this.#stopping) {
      const outcome = await this.#runOnce();
      this.#firstTry.resolve();
      if (this.#stopping || outcome.refused) break;
      if (outcome.upMs >= policy.healthyAfterMs) failures = 0;
      failures++;
      this.#lastFailure = { message: outcome.message, at: new Date() };
      if (policy.maxRetries > 0 && failures > policy.maxRetries) {
        this.#set('retries-exceeded', `${outcome.message}; gave up after ${failures} failed starts`);
        this.#logger.error('plugin keeps failing, not restarting it', { failures, error: outcome.message });
        break;
      }
      const base = Math.min(policy.initialDelayMs * policy.multiplier ** (failures - 1), policy.maxDelayMs);
      const delay = Math.round(base * (0.5 + Math.random()));
      this.#set('crashed', `${outcome.message}; restarting in ${(delay / 1000).toFixed(1)}s`);
      this.#logger.warn('plugin failed, restarting', {
        error: outcome.message,
        delayMs: delay,
        attempt: failures,
      });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wakeUp = undefined;
      if (!this.#stopping) this.restarts++;
    }
  }

  /** One launch: returns when the process is gone (or was never started), with why. */
  async #runOnce(): Promise<{ message: string; upMs: number; refused?: true }> {
    const init = this.#init;
    this.#refused = false;
    const refusal = await init.verify?.();
    if (this.#stopping) return { message: 'stopped', upMs: 0 };
    if (refusal !== undefined) {
      const message = `not launched: ${refusal}`;
      this.#refused = true;
      this.#logger.error('plugin not launched', { error: refusal });
      this.#set('stopped', message);
      return { message, upMs: 0, refused: true };
    }
    // Nothing is awaited from here to the spawn: the check and the exec are as close as they get
    // (docs/security.md, "Pinning").
    let attempt: Attempt;
    try {
      attempt = this.#launch();
    } catch (err) {
      const message = `cannot launch ${init.path}: ${(err as Error).message}`;
      this.#set('crashed', message);
      this.#firstTry.resolve();
      return { message, upMs: 0 };
    }
    this.#attempt = attempt;
    const timeout = new Promise<'timeout'>((resolve) => {
      const t = setTimeout(() => resolve('timeout'), init.registrationTimeoutMs);
      attempt.exited.finally(() => clearTimeout(t));
    });
    const endpoint = createRegistrationEndpoint({
      expectedName: init.name,
      engineName: init.engineName,
      engineVersion: init.engineVersion,
      requestTimeoutMs: init.requestTimeoutMs,
      claim: (r) => init.claim(r),
    });
    serveConnect(attempt.session, {
      routes: (router) => endpoint.routes(router),
      readMaxBytes: SMALL_REQUEST_MAX_BYTES,
      logger: this.#logger,
    });
    const first = await Promise.race([
      endpoint.registered,
      attempt.exited.then(() => 'exited' as const),
      timeout,
    ]);
    if (first === 'timeout' || first === 'exited') {
      const message =
        first === 'timeout'
          ? `plugin registration timed out after ${init.registrationTimeoutMs} ms`
          : `plugin exited before registering (${describeExit(await attempt.exited)})`;
      this.#logger.error('plugin registration failed', { error: message });
      await this.#shutdown(attempt, false);
      this.#ended(attempt);
      this.#set('crashed', message);
      this.#firstTry.resolve();
      return { message, upMs: 0 };
    }
    const registration = first;
    this.#firstTry.resolve();
    attempt.registration = registration;
    attempt.registeredAt = Date.now();
    this.registration = registration;
    if (registration.role === 'access-control') {
      this.#accessModule = sessionAccessModule(attempt.session, registration.name, {
        timeoutMs: init.requestTimeoutMs,
      });
    } else {
      this.#provider = sessionProvider(attempt.session, registration, init.callLimits);
    }
    this.#set('running', this.#runningMessage());
    this.#logger.info('plugin registered', {
      version: registration.version,
      ...(registration.role === 'access-control'
        ? { role: registration.role }
        : { pattern: registration.pattern }),
      pid: attempt.child.pid,
    });
    const exit = await attempt.exited;
    this.#provider = undefined;
    this.#accessModule = undefined;
    // No orphans (§0): whatever the plugin started in its process group dies with it, as on stop.
    killProcessGroup(attempt.child, 'SIGKILL');
    attempt.session.abort();
    this.#ended(attempt);
    const upMs = Date.now() - attempt.registeredAt;
    if (this.#stopping) return { message: 'stopped', upMs };
    const message = `plugin ${JSON.stringify(init.name)} stopped unexpectedly (${describeExit(exit)})`;
    this.#logger.error('plugin crashed', { error: message });
    return { message, upMs };
  }

  /**
   * A running plugin's message: empty, or after a restart the failure that caused it (the wire's
   * status_message is display only, §7.6), so that a plugin that keeps crashing and coming back
   * does not look healthy in `plugins`.
   */
  #runningMessage(): string {
    const last = this.#lastFailure;
    if (last === undefined || this.restarts === 0) return '';
    const at = last.at.toISOString().slice(0, 19).replace('T', ' ');
    return `restarted ${this.restarts} ${this.restarts === 1 ? 'time' : 'times'}; last failure at ${at} UTC: ${last.message}`;
  }

  /** The attempt's process and its group are gone: stop following its output, drop its record. */
  #ended(attempt: Attempt): void {
    attempt.output.close();
    if (attempt.child.pid !== undefined) forgetGroup(this.#init.stateDir, this.name, attempt.child.pid);
    this.#attempt = undefined;
  }

  #launch(): Attempt {
    const init = this.#init;
    ensurePrivateDir(init.stateDir);
    const log = openPluginLog(init.stateDir, init.name);
    let launched: ReturnType<typeof launchPlugin>;
    try {
      launched = launchPlugin({
        command: init.path,
        name: init.name,
        registrationTimeoutMs: init.registrationTimeoutMs,
        env: init.env,
        processGroup: true,
        output: log.fd,
      });
    } finally {
      closeSync(log.fd); // the child has its own copy
    }
    const child = launched.child;
    const output = log.follow(this.#logger);
    if (child.pid !== undefined) {
      try {
        recordGroup(init.stateDir, init.name, child.pid);
      } catch (err) {
        this.#logger.warn('cannot record the plugin process group', { error: (err as Error).message });
      }
    }
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
      (resolve) => {
        let spawnError: Error | undefined;
        child.once('error', (err) => {
          spawnError = err;
          // A failed spawn emits 'error' and maybe never 'exit'.
          if (child.pid === undefined) resolve({ code: null, signal: null, error: err });
        });
        child.once('exit', (code, signal) =>
          resolve(spawnError ? { code, signal, error: spawnError } : { code, signal }),
        );
      },
    );
    const session = createMuxSession(launched.socket, {
      ...init.session,
      role: 'server',
      logger: this.#logger,
      closeTimeoutMs: init.shutdownTimeoutMs,
    });
    return { child, session, exited, registration: undefined, registeredAt: undefined, output };
  }

  /** Shutdown RPC → drain → SIGTERM to the group → SIGKILL, each step bounded (§7.1). */
  async #shutdown(attempt: Attempt, askFirst = true): Promise<void> {
    const t = this.#init.shutdownTimeoutMs;
    const alive = () => attempt.child.exitCode === null && attempt.child.signalCode === null;
    if (askFirst && attempt.registration !== undefined && attempt.session.status === 'open' && alive()) {
      try {
        await requestShutdown(attempt.session, attempt.registration.protocol, t);
      } catch (err) {
        this.#logger.debug('shutdown RPC failed', { error: ConnectError.from(err).message });
      }
    }
    await attempt.session.close({ timeoutMs: t });
    if (await exitedWithin(attempt, t)) {
      killProcessGroup(attempt.child, 'SIGKILL'); // helpers it left behind
      return;
    }
    this.#logger.warn('plugin did not exit after shutdown, sending SIGTERM', { pid: attempt.child.pid });
    killProcessGroup(attempt.child, 'SIGTERM');
    if (await exitedWithin(attempt, t)) {
      killProcessGroup(attempt.child, 'SIGKILL'); // helpers it left behind
      return;
    }
    this.#logger.warn('plugin did not shut down after timeout, killing it', { pid: attempt.child.pid });
    killProcessGroup(attempt.child, 'SIGKILL');
    if (!(await exitedWithin(attempt, 2_000))) {
      this.#logger.error(`timeout killing plugin ${JSON.stringify(this.name)}`, { pid: attempt.child.pid });
    }
  }
}

async function exitedWithin(attempt: Attempt, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    attempt.exited.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return done;
}

function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null; error?: Error }): string {
  if (exit.error !== undefined) return exit.error.message;
  if (exit.signal !== null) return `killed by ${exit.signal}`;
  return `exit code ${exit.code}`;
}

/**
 * A plugin's `Plugin.metadata` oneof on the wire (protocol.md §4.2): `access_control_module` for a
 * module, else `secrets_provider` with its pattern ('' before it registered).
 */
export function metadataToProto(info: Pick<PluginInfo, 'role' | 'pattern'>): pluginsv1.Plugin['metadata'] {
  return info.role === 'access-control'
    ? { case: 'accessControlModule', value: create(pluginsv1.AccessControlModuleSchema) }
    : {
        case: 'secretsProvider',
        value: create(pluginsv1.SecretsProviderSchema, { pattern: info.pattern ?? '' }),
      };
}

/** Maps our run status to the wire enum (protocol.md §4.2). */
export function runStatusToProto(status: RunStatus): pluginsv1.RunStatus {
  switch (status) {
    case 'running':
      return pluginsv1.RunStatus.RUNNING;
    case 'stopped':
      return pluginsv1.RunStatus.STOPPED;
    case 'crashed':
      return pluginsv1.RunStatus.CRASHED;
    case 'retries-exceeded':
      return pluginsv1.RunStatus.RETRIES_EXCEEDED;
  }
}
