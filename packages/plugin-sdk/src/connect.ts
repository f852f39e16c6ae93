// Connecting (protocol.md §1.3, §3.2): adopt the engine's fd 3 when launched, else upgrade the given
// connection or dial the engine socket and upgrade.
import type { Duplex } from 'node:stream';
import { dialAndUpgrade, openLaunchChannel } from '@secrets-engine/ipc';
import { upgradeSocket } from '@secrets-engine/ipc/internal';
import { defaultSocketPath } from '@secrets-engine/secrets';
import type { ServeOptions, ServeResult } from './host.js';

/** Go's hijackTimeout (protocol.md §3.2). */
const UPGRADE_TIMEOUT_MS = 2_000;

export interface ConnectOptions {
  env: Readonly<Record<string, string | undefined>>;
  serve: ServeOptions;
  socketPath: string | undefined;
  /** The registration timeout when started by hand. */
  registrationTimeoutMs: number;
  /** Aborted by close(): stops a dial or upgrade still in progress. */
  closeSignal: AbortSignal;
  closing: () => boolean;
}

export interface Connected {
  mode: ServeResult['mode'];
  /** The name the engine gave a launched plugin. */
  name: string | undefined;
  /** Undefined: stopped locally (close() or the signal) while connecting. */
  socket: Duplex | undefined;
  registrationTimeoutMs: number;
}

export async function connectToEngine(options: ConnectOptions): Promise<Connected> {
  const { serve } = options;
  const launch = openLaunchChannel(options.env);
  if (launch !== undefined) {
    return {
      mode: 'launched',
      name: launch.config.name,
      socket: launch.socket,
      registrationTimeoutMs: launch.config.timeoutMs,
    };
  }
  const result = {
    mode: 'external' as const,
    name: undefined,
    registrationTimeoutMs: options.registrationTimeoutMs,
  };
  // close() (and the caller's signal) also stop a dial or upgrade that is still in progress.
  const signal =
    serve.signal === undefined ? options.closeSignal : AbortSignal.any([serve.signal, options.closeSignal]);
  try {
    if (serve.connection !== undefined) {
      // Bounded like Go's hijackTimeout (2 s), also when a signal is given (§3.2).
      const timeout = AbortSignal.timeout(UPGRADE_TIMEOUT_MS);
      const socket = await upgradeSocket(serve.connection, {
        signal: AbortSignal.any([signal, timeout]),
        timeoutMs: UPGRADE_TIMEOUT_MS,
        timedOut: () => timeout.aborted,
      });
      return { ...result, socket };
    }
    const socket = await dialAndUpgrade(options.socketPath ?? defaultSocketPath(options.env), { signal });
    return { ...result, socket };
  } catch (err) {
    if (options.closing() || serve.signal?.aborted) {
      serve.connection?.destroy();
      return { ...result, socket: undefined };
    }
    throw err;
  }
}
