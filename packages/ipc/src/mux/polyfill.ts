// Node 20 lacks Promise.withResolvers (decisions.md "P1"). yamux uses it for keep-alive pings and
// @libp2p/utils for drain promises; without it the first ping fails silently, the RTT stays -1
// and the receive window never grows. Installed on demand (never at import time: the package is
// side-effect free) by every factory that creates a yamux session.
let installed = false;

export function ensurePolyfills(): void {
  if (installed) return;
  installed = true;
  const P = Promise as unknown as { withResolvers?: unknown };
  if (typeof P.withResolvers !== 'function') {
    Object.defineProperty(Promise, 'withResolvers', {
      configurable: true,
      writable: true,
      value: function withResolvers<T>() {
        let resolve!: (value: T | PromiseLike<T>) => void;
        let reject!: (reason?: unknown) => void;
        const promise = new Promise<T>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        return { promise, resolve, reject };
      },
    });
  }
}
