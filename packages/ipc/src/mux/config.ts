// Defaults and validation of MuxSessionInit, in one place (as libp2p-yamux's config.ts and
// verifyConfig do): a bad value is a SessionConfigError naming the option, what it got and what
// is allowed, never a NaN frame size or a silently ignored switch.
import { SessionConfigError } from '../errors.js';
import type { MuxSessionInit, SessionRole } from './session.js';

/** The spec's initial stream window (protocol.md §2.2); libp2p-yamux may not go below it. */
export const INITIAL_STREAM_WINDOW = 256 * 1024;

export type ResolvedSessionInit = Required<Omit<MuxSessionInit, 'logger'>> & {
  logger: MuxSessionInit['logger'] | undefined;
};

export const SESSION_DEFAULTS = {
  keepAliveIntervalMs: 30_000,
  maxStreamWindowSize: 4 * 1024 * 1024,
  // 256 KiB = the spec's initial window: bulk at raw-socket speed (measured), and one frame holds
  // the line for ~0.25 ms at most.
  maxFrameSize: 256 * 1024,
  maxPendingOpens: 256,
  maxInboundStreams: 4096,
  closeTimeoutMs: 2_000,
  batchWrites: true,
  // hashicorp/yamux's ConnectionWriteTimeout, which is also its ping-reply timeout (§2.2).
  keepAliveTimeoutMs: 10_000,
  writeTimeoutMs: 10_000,
  // 8 streams' worth of the largest window at 4 MiB; consumers in this codebase read eagerly, so a
  // healthy session holds next to nothing (the 2026-12-04 decisions.md entry on bounded yamux sessions).
  maxBufferedBytes: 32 * 1024 * 1024,
} as const;

/** Largest frame length the 32-bit yamux header can carry is far beyond this; 16 MiB is sane. */
const MAX_FRAME_LIMIT = 16 * 1024 * 1024;

export function resolveSessionInit(init: MuxSessionInit): ResolvedSessionInit {
  if (init === null || typeof init !== 'object') {
    throw new SessionConfigError(`createMuxSession: options must be an object, got ${describe(init)}`);
  }
  const roles: readonly SessionRole[] = ['client', 'server'];
  if (!roles.includes(init.role)) {
    throw new SessionConfigError(
      `createMuxSession: role must be "client" (a plugin) or "server" (the engine), got ${describe(init.role)}`,
    );
  }
  const resolved: ResolvedSessionInit = {
    role: init.role,
    logger: init.logger,
    keepAliveIntervalMs: duration(init, 'keepAliveIntervalMs', 1),
    maxStreamWindowSize: integer(init, 'maxStreamWindowSize', INITIAL_STREAM_WINDOW, 2 ** 31 - 1),
    maxFrameSize: integer(init, 'maxFrameSize', 1, MAX_FRAME_LIMIT),
    // Counts may be unbounded in effect (a test disables the open throttle with MAX_SAFE_INTEGER).
    maxPendingOpens: integer(init, 'maxPendingOpens', 1, Number.MAX_SAFE_INTEGER),
    maxInboundStreams: integer(init, 'maxInboundStreams', 1, Number.MAX_SAFE_INTEGER),
    closeTimeoutMs: duration(init, 'closeTimeoutMs', 0),
    batchWrites: init.batchWrites ?? SESSION_DEFAULTS.batchWrites,
    keepAliveTimeoutMs: duration(init, 'keepAliveTimeoutMs', 1),
    writeTimeoutMs: duration(init, 'writeTimeoutMs', 1),
    maxBufferedBytes: 0,
  };
  // One stream may legitimately hold two windows: what was pushed before it paused, and the rest
  // of the window the peer still had (decisions.md "P5"). The default grows with a larger window.
  resolved.maxBufferedBytes = integer(
    {
      ...init,
      maxBufferedBytes:
        init.maxBufferedBytes ??
        Math.max(SESSION_DEFAULTS.maxBufferedBytes, 2 * resolved.maxStreamWindowSize),
    },
    'maxBufferedBytes',
    2 * resolved.maxStreamWindowSize,
    Number.MAX_SAFE_INTEGER,
    ' (at least twice maxStreamWindowSize)',
  );
  if (typeof resolved.batchWrites !== 'boolean') {
    throw new SessionConfigError(
      `createMuxSession: batchWrites must be true or false, got ${describe(init.batchWrites)}`,
    );
  }
  return resolved;
}

type IntegerOption =
  | 'maxStreamWindowSize'
  | 'maxFrameSize'
  | 'maxPendingOpens'
  | 'maxInboundStreams'
  | 'maxBufferedBytes';
type DurationOption = 'keepAliveIntervalMs' | 'closeTimeoutMs' | 'keepAliveTimeoutMs' | 'writeTimeoutMs';

/** A time in ms (fractions allowed, as the runtime's own timeouts); at most what setTimeout takes. */
function duration(init: MuxSessionInit, key: DurationOption, min: number): number {
  const value = init[key] ?? SESSION_DEFAULTS[key];
  const max = 2 ** 31 - 1;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new SessionConfigError(
      `createMuxSession: ${key} must be a number of ms from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

function integer(init: MuxSessionInit, key: IntegerOption, min: number, max: number, why = ''): number {
  const value = init[key] ?? SESSION_DEFAULTS[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SessionConfigError(
      `createMuxSession: ${key} must be an integer from ${min} to ${max}${why}, got ${describe(value)}`,
    );
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return typeof value;
}
