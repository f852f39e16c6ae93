// Admission control (issue 12 item 6): a cap on the calls the engine works on at once, and a cap on
// the calls it has open on one plugin's connection, with a bounded FIFO queue for the rest. Over a
// cap the answer is `resource_exhausted` naming the limit, never a reset stream and never
// `not_found`: a request the engine did not work on says so.
import { Code, ConnectError } from '@connectrpc/connect';

/** Counts the calls in progress; `enter()` refuses one over `max`. */
export class RequestAdmission {
  readonly #max: number;
  #inFlight = 0;

  constructor(max: number) {
    this.#max = max;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Admits one call (the returned function ends it, once) or throws `resource_exhausted`. */
  enter(): () => void {
    if (this.#inFlight >= this.#max) {
      throw new ConnectError(
        `the secrets engine is busy: ${this.#inFlight} requests in progress, its limit (limits.maxRequestsInFlight ${this.#max}); try again later`,
        Code.ResourceExhausted,
      );
    }
    this.#inFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#inFlight--;
    };
  }

  /** Runs `fn` as one admitted call. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const leave = this.enter();
    try {
      return await fn();
    } finally {
      leave();
    }
  }
}

interface Waiter {
  start(): void;
}

/**
 * At most `maxInFlight` calls at once to one plugin; up to `maxQueued` more wait, first come first
 * served, each until its signal fires. One more is refused with `resource_exhausted`.
 */
export class CallQueue {
  readonly #plugin: string;
  readonly #maxInFlight: number;
  readonly #maxQueued: number;
  #inFlight = 0;
  /** Insertion order is arrival order; an aborted waiter is deleted in O(1). */
  readonly #queue = new Set<Waiter>();

  constructor(plugin: string, limits: { maxInFlight: number; maxQueued: number }) {
    this.#plugin = plugin;
    this.#maxInFlight = limits.maxInFlight;
    this.#maxQueued = limits.maxQueued;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#queue.size;
  }

  /** Runs `fn` once a slot is free (at once if one is). Rejects with the signal's reason if it fires first. */
  async run<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    await this.#acquire(signal);
    try {
      return await fn();
    } finally {
      this.#release();
    }
  }

  #acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(ConnectError.from(signal.reason, Code.Canceled));
    if (this.#inFlight < this.#maxInFlight && this.#queue.size === 0) {
      this.#inFlight++;
      return Promise.resolve();
    }
    if (this.#queue.size >= this.#maxQueued) {
      return Promise.reject(
        new ConnectError(
          `plugin ${JSON.stringify(this.#plugin)} is busy: ${this.#inFlight} calls in progress (limits.maxCallsPerPlugin ${this.#maxInFlight}) and ${this.#queue.size} waiting (limits.maxQueuedPerPlugin ${this.#maxQueued})`,
          Code.ResourceExhausted,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#queue.delete(waiter);
        reject(ConnectError.from(signal.reason, Code.Canceled));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#queue.add(waiter);
    });
  }

  #release(): void {
    const next = this.#queue.values().next();
    if (next.done) {
      this.#inFlight--;
      return;
    }
    // The slot passes to the oldest waiter: #inFlight stays as it is.
    this.#queue.delete(next.value);
    next.value.start();
  }
}
