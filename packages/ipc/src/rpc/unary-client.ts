// A lean, wire-identical Connect unary client over yamux streams (decisions.md "connect-perf §5"),
// or over any opener of a stream with the same surface, such as a `net.Socket` to the engine socket
// (createSocketTransport, decisions.md "lean-get"). Per call it opens one stream, writes the whole request (head + protobuf body, Content-Length, `Connection:
// close`, like Go's clients, protocol.md §2.3) in one write, reads the response with a small
// HTTP/1.1 parser, and closes the stream. No AbortController, no async generators, no per-call
// serializer lookup. Streaming methods use connect-node's stock transport.
import {
  create,
  type DescMessage,
  type DescMethodUnary,
  fromBinary,
  isMessage,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextValues,
  type Interceptor,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from '@connectrpc/connect';
import { codeFromHttpStatus, errorFromJsonBytes, trailerDemux } from '@connectrpc/connect/protocol-connect';
import { nodeZlib } from '../builtins.js';
import { PACKAGE_VERSION } from '../package-version.js';
import { Http1ResponseParser } from './http1.js';

/** `secrets-engine-ipc/<package version> (connect-es)`: what the lean client sends (§2.3). */
export const USER_AGENT = `secrets-engine-ipc/${PACKAGE_VERSION} (connect-es)`;
const NEVER = new AbortController().signal;
const GZIP_SYNC_LIMIT = 64 * 1024;

export interface UnaryClientOptions {
  baseUrl: string;
  interceptors: Interceptor[];
  readMaxBytes: number;
  writeMaxBytes: number;
  defaultTimeoutMs: number | undefined;
  /** Handles streaming methods (connect-node's stock transport). */
  streamTransport: Transport;
  /**
   * A `code` for the cause of a response cut short by the end of the stream (its end or close
   * before the response was complete), so that a caller can tell a lost connection from a peer's
   * answer. Undefined (the yamux path): no cause on a close, a plain parser error on an end.
   */
  lostCode?: string;
}

/**
 * What a call needs of its stream: a MuxStream, a `net.Socket`. One is opened per call, written
 * once, read to its end and destroyed.
 */
export interface LeanStream {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'data', listener: (chunk: Buffer) => void): unknown;
  off(event: 'end' | 'close', listener: () => void): unknown;
  write(chunk: Buffer): unknown;
  destroy(err?: Error): unknown;
}

/** Opens the stream of one call; what it throws fails that call as `unavailable` (cause: the error). */
export type LeanStreamOpener = () => LeanStream;

/**
 * The key of the raw header lookup on a lean response:
 * `response[RESPONSE_HEADER_VALUE](name)` is `response.header.get(name)` without making a Headers
 * object (the first one loads undici). A registered symbol, so that a caller (the client package)
 * can use it without importing this package.
 */
export const RESPONSE_HEADER_VALUE: unique symbol = Symbol.for('@secrets-engine/ipc.responseHeaderValue');

type AnyNext = (req: UnaryRequest) => Promise<UnaryResponse>;

/**
 * Creates the lean transport over the streams `open` makes. Internal: `createSessionTransport` and
 * `createSocketTransport` are the entries.
 */
export function createLeanTransport(open: LeanStreamOpener, options: UnaryClientOptions): Transport {
  const heads = new WeakMap<object, string>();
  const call: AnyNext = (req) => callUnary(open, req, options, heads);
  const chain = [...options.interceptors].reverse().reduce<AnyNext>((n, i) => i(n as never) as AnyNext, call);
  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: ConstructorParameters<typeof Headers>[0] | undefined,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      const message = (
        isMessage(input, method.input) ? input : create(method.input, input)
      ) as MessageShape<I>;
      const timeout = timeoutMs ?? options.defaultTimeoutMs;
      const headers = lazyHeaders(header);
      const req = {
        stream: false as const,
        service: method.parent,
        method,
        requestMethod: 'POST',
        url: `${options.baseUrl}/${method.parent.typeName}/${method.name}`,
        get header() {
          return headers.header;
        },
        set header(value: Headers) {
          headers.header = value;
        },
        [UNTOUCHED]: headers,
        contextValues: contextValues ?? createContextValues(),
        message,
        signal: signal ?? NEVER,
      };
      if (timeout !== undefined && timeout > 0) (req as { timeoutMs?: number }).timeoutMs = timeout;
      return (await chain(req as unknown as UnaryRequest)) as unknown as UnaryResponse<I, O>;
    },
    stream: (...args) => options.streamTransport.stream(...args),
  };
}

function callUnary(
  open: LeanStreamOpener,
  req: UnaryRequest & { timeoutMs?: number },
  options: UnaryClientOptions,
  heads: WeakMap<object, string>,
): Promise<UnaryResponse> {
  const { method, signal } = req;
  if (signal.aborted) return Promise.reject(ConnectError.from(signal.reason, Code.Canceled));
  const body = toBinary(method.input, req.message);
  if (body.byteLength > options.writeMaxBytes) {
    return Promise.reject(
      new ConnectError(
        `message size ${body.byteLength} is larger than configured writeMaxBytes ${options.writeMaxBytes}`,
        Code.ResourceExhausted,
      ),
    );
  }
  let fixed = heads.get(method);
  if (fixed === undefined) {
    fixed =
      `POST /${method.parent.typeName}/${method.name} HTTP/1.1\r\n` +
      'Host: unix\r\n' +
      `User-Agent: ${USER_AGENT}\r\n` +
      'Content-Type: application/proto\r\n' +
      'Connect-Protocol-Version: 1\r\n' +
      'Accept-Encoding: gzip\r\n' +
      'Connection: close\r\n';
    heads.set(method, fixed);
  }
  let head = `${fixed}Content-Length: ${body.byteLength}\r\n`;
  if (req.timeoutMs !== undefined) head += `Connect-Timeout-Ms: ${Math.max(1, Math.ceil(req.timeoutMs))}\r\n`;
  let badHeader: string | undefined;
  // A request whose headers nobody set or read (no interceptor touched them) has none to write.
  if (!(req as { [UNTOUCHED]?: LazyHeaders })[UNTOUCHED]?.untouchedEmpty) {
    req.header.forEach((value, key) => {
      if (/[\r\n]/.test(value) || /[\r\n:]/.test(key)) badHeader = key;
      else head += `${key}: ${value}\r\n`;
    });
  }
  if (badHeader !== undefined) {
    return Promise.reject(
      new ConnectError(`invalid request header ${JSON.stringify(badHeader)}`, Code.InvalidArgument),
    );
  }
  head += '\r\n';

  return new Promise<UnaryResponse>((resolve, reject) => {
    let stream: LeanStream;
    try {
      stream = open();
    } catch (err) {
      reject(new ConnectError((err as Error).message, Code.Unavailable, undefined, undefined, err));
      return;
    }
    const parser = new Http1ResponseParser(options.readMaxBytes * 2 + 64 * 1024);
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    // `reset`: the call is abandoned mid-flight (abort, deadline, broken response), so the peer gets
    // an RST; a complete response, error or not, ends the stream gracefully.
    const finish = (err: unknown, res?: UnaryResponse, reset = true) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onClose);
      if (err !== undefined) {
        if (reset) stream.destroy(err instanceof Error ? err : new Error(String(err)));
        else stream.destroy();
        // The stream's own 'error' is ours to swallow: the caller gets `err`.
        reject(err);
      } else {
        stream.destroy();
        resolve(res!);
      }
    };
    const onAbort = () => finish(ConnectError.from(signal.reason, Code.Canceled));
    const onData = (chunk: Buffer) => {
      let res: ReturnType<Http1ResponseParser['push']>;
      try {
        res = parser.push(chunk);
      } catch (err) {
        finish(new ConnectError(`invalid response: ${(err as Error).message}`, Code.Internal));
        return;
      }
      if (res !== undefined) decode(res);
    };
    const onEnd = () => {
      if (settled) return;
      let res: ReturnType<Http1ResponseParser['end']>;
      try {
        res = parser.end();
      } catch (err) {
        if (options.lostCode !== undefined) Object.assign(err as Error, { code: options.lostCode });
        finish(
          new ConnectError(
            `transport: ${(err as Error).message}`,
            Code.Unavailable,
            undefined,
            undefined,
            err,
          ),
        );
        return;
      }
      decode(res);
    };
    const onClose = () => {
      if (!settled) {
        const message = 'transport: stream closed before the response was complete';
        finish(
          options.lostCode === undefined
            ? new ConnectError(message, Code.Unavailable)
            : new ConnectError(
                message,
                Code.Unavailable,
                undefined,
                undefined,
                Object.assign(new Error('stream closed before the response was complete'), {
                  code: options.lostCode,
                }),
              ),
        );
      }
    };
    const onError = (err: Error) => {
      if (!settled)
        finish(new ConnectError(`transport: ${err.message}`, Code.Unavailable, undefined, undefined, err));
    };
    const decode = (res: { status: number; headers: Array<[string, string]>; body: Buffer }) => {
      let encoding: string | undefined;
      let contentType = '';
      for (const [k, v] of res.headers) {
        if (k === 'content-encoding') encoding = v.toLowerCase();
        else if (k === 'content-type') contentType = v;
      }
      inflate(res.body, encoding, options.readMaxBytes, (err, bytes) => {
        if (err !== undefined) {
          finish(err, undefined, false);
          return;
        }
        if (res.status !== 200) {
          const [header, trailer] = responseHeaders(res.headers);
          const metadata = new Headers(header);
          trailer.forEach((v, k) => {
            metadata.append(k, v);
          });
          const fallback = new ConnectError(`HTTP ${res.status}`, codeFromHttpStatus(res.status), metadata);
          finish(
            contentType.startsWith('application/json')
              ? errorFromJsonBytes(bytes!, metadata, fallback)
              : fallback,
            undefined,
            false,
          );
          return;
        }
        if (!/^application\/proto(?:;|$)/.test(contentType)) {
          finish(
            new ConnectError(
              `unexpected response content type ${JSON.stringify(contentType)}`,
              Code.Internal,
            ),
            undefined,
            false,
          );
          return;
        }
        let message: MessageShape<DescMessage>;
        try {
          // Unknown fields are skipped, never kept (issue 12 item 3: kept, they cost ~80× their size).
          message = fromBinary(method.output, bytes!, { readUnknownFields: false });
        } catch (e) {
          finish(new ConnectError(`parse binary: ${(e as Error).message}`, Code.Internal), undefined, false);
          return;
        }
        finish(undefined, lazyResponse(req.service, method, message, res.headers));
      });
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onClose);
    stream.on('error', onError);
    // NEVER is shared by every call without a signal and can never fire: no listener (it would pile
    // up past Node's 10-listener warning with concurrent calls).
    if (signal !== NEVER) signal.addEventListener('abort', onAbort, { once: true });
    if (req.timeoutMs !== undefined) {
      timer = setTimeout(
        () =>
          finish(
            new ConnectError(`the operation timed out after ${req.timeoutMs} ms`, Code.DeadlineExceeded),
          ),
        req.timeoutMs,
      );
    }
    // One write: head and body leave in a single yamux data frame (when they fit).
    stream.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
  });
}

/**
 * Headers objects are made only when something reads them (issue 14): each `new Headers()` is
 * undici's, validated per name and value, and the first one loads undici itself (~25 ms of a
 * plugin's start). A call with no headers given and none read by an interceptor makes none.
 */
const UNTOUCHED = Symbol('lazy request headers');

interface LazyHeaders {
  header: Headers;
  /** True while nobody read or replaced `header` and it was made from no headers at all. */
  readonly untouchedEmpty: boolean;
}

function lazyHeaders(init: ConstructorParameters<typeof Headers>[0] | undefined): LazyHeaders {
  let made: Headers | undefined;
  const empty = isEmptyInit(init);
  return {
    get header(): Headers {
      made ??= new Headers(init);
      return made;
    },
    set header(value: Headers) {
      made = value;
    },
    get untouchedEmpty() {
      return empty && made === undefined;
    },
  };
}

/** No headers in `init` (checked without touching the `Headers` global, which loads undici). */
function isEmptyInit(init: ConstructorParameters<typeof Headers>[0] | undefined): boolean {
  if (init === undefined) return true;
  if (typeof (init as Iterable<unknown>)[Symbol.iterator] === 'function')
    return Array.isArray(init) && init.length === 0;
  return Object.keys(init).length === 0;
}

/** The response's headers and trailers (`trailer-` names), as connect's trailerDemux splits them. */
function responseHeaders(raw: Array<[string, string]>): [Headers, Headers] {
  const headers = new Headers();
  for (const [k, v] of raw) headers.append(k, v);
  return trailerDemux(headers);
}

function lazyResponse(
  service: UnaryRequest['service'],
  method: DescMethodUnary,
  message: MessageShape<DescMessage>,
  raw: Array<[string, string]>,
): UnaryResponse {
  let split: [Headers, Headers] | undefined;
  return {
    stream: false,
    service,
    method,
    message,
    // Headers.get's answer, from the raw list: a trailer- name is a trailer, not a header.
    [RESPONSE_HEADER_VALUE]: (name: string): string | null => {
      const key = name.toLowerCase();
      if (key.startsWith('trailer-')) return null;
      let value: string | null = null;
      for (const [k, v] of raw) if (k === key) value = value === null ? v : `${value}, ${v}`;
      return value;
    },
    get header() {
      split ??= responseHeaders(raw);
      return split[0];
    },
    get trailer() {
      split ??= responseHeaders(raw);
      return split[1];
    },
  } as unknown as UnaryResponse;
}

function inflate(
  body: Buffer,
  encoding: string | undefined,
  max: number,
  cb: (err: ConnectError | undefined, bytes?: Uint8Array) => void,
): void {
  if (encoding === undefined || encoding === 'identity') {
    if (body.length > max) {
      cb(
        new ConnectError(
          `message size ${body.length} is larger than configured readMaxBytes ${max}`,
          Code.ResourceExhausted,
        ),
      );
      return;
    }
    cb(undefined, body);
    return;
  }
  if (encoding !== 'gzip') {
    cb(
      new ConnectError(
        `server sent content-encoding ${JSON.stringify(encoding)}; only gzip is accepted`,
        Code.Internal,
      ),
    );
    return;
  }
  const tooBig = (err: unknown) =>
    (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE'
      ? new ConnectError(`message is larger than configured readMaxBytes ${max}`, Code.ResourceExhausted)
      : new ConnectError(`decompress gzip: ${(err as Error).message}`, Code.Internal);
  if (body.length <= GZIP_SYNC_LIMIT) {
    let out: Buffer;
    try {
      out = nodeZlib().gunzipSync(body, { maxOutputLength: max });
    } catch (err) {
      cb(tooBig(err));
      return;
    }
    cb(undefined, out);
    return;
  }
  nodeZlib().gunzip(body, { maxOutputLength: max }, (err, out) => {
    if (err !== null) cb(tooBig(err));
    else cb(undefined, out);
  });
}
