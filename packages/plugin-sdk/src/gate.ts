// The registration gate (protocol.md §5.1 step 7): data calls wait until registration ends, and
// fail as Go's setupInterceptor makes them fail when it fails or takes too long.
import { Code, ConnectError } from '@connectrpc/connect';
import { formatDuration } from './register.js';

export class RegistrationGate {
  #open = false;
  readonly #settled = deferred();

  constructor() {
    this.#settled.promise.catch(() => {});
  }

  /** Whether registration succeeded. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Registration succeeded: data calls go through. */
  open(): void {
    this.#open = true;
    this.#settled.resolve();
  }

  /** Registration failed: waiting data calls fail with `err`. */
  fail(err: Error): void {
    this.#settled.reject(err);
  }

  /** Waits for registration, at most `timeoutMs`, or until `signal` aborts. */
  async wait(signal: AbortSignal, timeoutMs: number): Promise<void> {
    if (this.#open) return;
    const cancelled = () =>
      new ConnectError('context cancelled while waiting for registration', Code.Internal);
    if (signal.aborted) throw cancelled();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        this.#settled.promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(registrationIncomplete(timeoutMs)), timeoutMs);
          onAbort = () => reject(cancelled());
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } catch (err) {
      if (err instanceof ConnectError) throw err;
      throw new ConnectError(`registration failed: ${(err as Error).message}`, Code.Unavailable);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    }
  }
}

export function registrationIncomplete(timeoutMs: number): ConnectError {
  return new ConnectError(
    `registration incomplete (timeout after ${formatDuration(timeoutMs)})`,
    Code.DeadlineExceeded,
  );
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
