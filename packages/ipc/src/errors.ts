// Local errors of @secrets-engine/ipc. Each class sets `name` on the prototype and the instance
// and carries a Symbol.for brand so `isIpcError` and `instanceof` work across package copies.

const BRAND = Symbol.for('@secrets-engine/ipc.error');

export class IpcError extends Error {
  static {
    IpcError.prototype.name = 'IpcError';
  }
  readonly [BRAND] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `instanceof X` must see the class X it was called on
    return branded(value, this, IpcError);
  }
}

/** True for every error thrown by this package, whichever copy of the package threw it. */
export function isIpcError(value: unknown): value is IpcError {
  return value instanceof IpcError;
}

/** The launch variable `DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG` is malformed (protocol.md §1.3). */
export class LaunchConfigError extends IpcError {
  static {
    LaunchConfigError.prototype.name = 'LaunchConfigError';
  }
}

/** createMuxSession was given an option it cannot run with (the message names it and the range). */
export class SessionConfigError extends IpcError {
  static {
    SessionConfigError.prototype.name = 'SessionConfigError';
  }
}

/** A plugin could not be launched (no socketpair for fd 3: the fd table is full, for one). */
export class LaunchError extends IpcError {
  static {
    LaunchError.prototype.name = 'LaunchError';
  }
}

/** The feature needs a platform primitive we do not implement yet (Windows pipe pairs, §1.4). */
export class UnsupportedPlatformError extends IpcError {
  static {
    UnsupportedPlatformError.prototype.name = 'UnsupportedPlatformError';
  }
}

/** The `/hijack` upgrade failed: the engine refused, answered garbage or did not answer (§3.2). */
export class UpgradeError extends IpcError {
  static {
    UpgradeError.prototype.name = 'UpgradeError';
  }
  /** The HTTP status the engine answered with, if it answered. */
  readonly status: number | undefined;
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options);
    this.status = options?.status;
  }
}

/** The engine socket could not be reached (nothing listens, permission denied, ...). */
export class DialError extends IpcError {
  static {
    DialError.prototype.name = 'DialError';
  }
  readonly path: string;
  constructor(message: string, options: { cause?: unknown; path: string }) {
    super(message, options);
    this.path = options.path;
  }
}

/** An operation needed an open session, but it is closing or closed. */
export class SessionClosedError extends IpcError {
  static {
    SessionClosedError.prototype.name = 'SessionClosedError';
  }
}

/** The peer reset a stream (yamux RST). Never reported as a clean end of stream (decisions.md "P6"). */
export class StreamResetError extends IpcError {
  static {
    StreamResetError.prototype.name = 'StreamResetError';
  }
}

/** The socket under a session went away while a stream was still open (decisions.md "P10"). */
export class TransportClosedError extends IpcError {
  static {
    TransportClosedError.prototype.name = 'TransportClosedError';
  }
}

/**
 * The peer broke the yamux protocol in a way that ends the session: a data frame longer than the
 * stream's receive window or the frame cap (rejected when its header is read, before its body is
 * buffered), a frame of unknown type or version, a stream id of the wrong parity. The session
 * sends GoAway with the protocol-error code (1), as hashicorp/yamux does, and closes.
 */
export class ProtocolViolationError extends IpcError {
  static {
    ProtocolViolationError.prototype.name = 'ProtocolViolationError';
  }
}

/**
 * The peer made the session hold more unread bytes than `maxBufferedBytes` (the data waiting on
 * all its streams plus a partly received frame). The session sends GoAway with the internal-error
 * code (2) and closes.
 */
export class SessionBufferLimitError extends IpcError {
  static {
    SessionBufferLimitError.prototype.name = 'SessionBufferLimitError';
  }
}

/** An operation did not finish within its deadline. */
export class TimeoutError extends IpcError {
  static {
    TimeoutError.prototype.name = 'TimeoutError';
  }
}

/** `instanceof` across package copies: the brand, then the root class, the literal name or the prototype chain. */
function branded(value: unknown, cls: { prototype: Error }, root: { prototype: Error }): boolean {
  if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[BRAND] !== true)
    return false;
  return (
    cls === root ||
    (value as Error).name === cls.prototype.name ||
    Object.prototype.isPrototypeOf.call(cls.prototype, value)
  );
}
