// The lean unary client over connections made elsewhere, one per call: what the CLI's one-shot
// commands use on the engine socket (decisions.md "lean-get"). The bytes on the wire are the yamux
// path's (protocol.md §2.3: `Connection: close`, Content-Length, gzip accepted).
import { Code, ConnectError, type Interceptor, type Transport } from '@connectrpc/connect';
import { DEFAULT_READ_MAX_BYTES, IPC_BASE_URL } from './connect.js';
import { createLeanTransport, type LeanStreamOpener } from './unary-client.js';

export interface SocketTransportOptions {
  /** Cap on one response message (after gunzip). Default 64 MiB. */
  readMaxBytes?: number;
  /** Cap on one request message. Default 64 MiB. */
  writeMaxBytes?: number;
  /** Deadline of a call that names none, in ms. Default none. */
  defaultTimeoutMs?: number;
  interceptors?: Interceptor[];
}

/**
 * A unary-only Connect transport: each call opens a connection with `open` (e.g.
 * `() => net.createConnection({ path })`), writes the request, reads the response to the end and
 * destroys the connection. What `open` throws, and a dial error the connection emits, fail the call
 * as `unavailable` with that error as the cause; a connection that ends or closes before the whole
 * response has a cause coded `ERR_STREAM_PREMATURE_CLOSE`. Streaming calls are `unimplemented`.
 */
export function createSocketTransport(
  open: LeanStreamOpener,
  options: SocketTransportOptions = {},
): Transport {
  const noStreams = (): never => {
    throw new ConnectError('the socket transport makes unary calls only', Code.Unimplemented);
  };
  return createLeanTransport(open, {
    baseUrl: IPC_BASE_URL,
    interceptors: options.interceptors ?? [],
    readMaxBytes: options.readMaxBytes ?? DEFAULT_READ_MAX_BYTES,
    writeMaxBytes: options.writeMaxBytes ?? DEFAULT_READ_MAX_BYTES,
    defaultTimeoutMs: options.defaultTimeoutMs,
    streamTransport: { unary: async () => noStreams(), stream: async () => noStreams() },
    lostCode: 'ERR_STREAM_PREMATURE_CLOSE',
  });
}
