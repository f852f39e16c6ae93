// The lean HTTP/1.1 server of an in-IPC Connect router (issue 14, docs/decisions.md "Plugin side:
// a lean HTTP/1.1 reader"): a yamux stream carrying one Connect unary request with
// `Connection: close` (what every Go client and ours send, protocol.md §2.3) is read and answered
// here, with no node:http connection (parser, IncomingMessage, ServerResponse, socket-like
// bookkeeping) per stream. The answer is byte for byte what node:http writes for the lean handler:
// the handler's headers in order, then `Date` and `Connection: close`, and the stream is ended
// after it. Anything else — another method or route, a keep-alive or HTTP/1.0 request, a chunked,
// compressed or `Expect` request, a repeated framing header, any head this strict reader does not
// take — goes, with every byte read so far, to the node:http server, which then owns the stream.
import { EventEmitter } from 'node:events';
import { ConnectError } from '@connectrpc/connect';
import type { Logger } from '../logger.js';
import type { MuxStream } from '../mux/mux-stream.js';
import { type LeanCall, type LeanResponse, type LeanUnaryServer, writeError } from './unary-handler.js';

/**
 * node:http's reason phrases (its STATUS_CODES) for every status the lean writer sends: 200 and
 * each status connect's codeToHttpStatus gives a Code (499 has none: node:http writes "unknown").
 * A table, not node:http itself, so that a plugin that never falls back never loads node:http
 * (issue 14); stream-server.test.ts checks it against node:http's.
 */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** node:http's default `maxHeaderSize`: a longer head goes to node:http, which answers 431. */
const MAX_HEAD_BYTES = 16 * 1024;

/** `POST <origin-form target> HTTP/1.1`: anything else is for node:http. */
const REQUEST_LINE = /^POST (\/[!-~]*) HTTP\/1\.1$/;
/** A header field: token name, optional whitespace, a value of visible characters, spaces and tabs. */
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\t\x20-\x7e\x80-\xff]*?)[ \t]*$/;
/** Headers whose repetition changes the meaning (framing, codec, deadline): repeated, node:http decides. */
const SINGLE = new Set([
  'content-length',
  'content-type',
  'content-encoding',
  'connect-protocol-version',
  'connect-timeout-ms',
  'host',
  'connection',
]);
/** Headers that make a request unusual for the lean path. */
const STOCK_ONLY = new Set(['transfer-encoding', 'expect', 'upgrade']);

/**
 * Serves `stream`: lean when it carries a plain unary request, else hands it to `fallback` with
 * the bytes read so far put back (`unshift`), so that node:http sees the stream from its start.
 */
export function serveStream(
  stream: MuxStream,
  lean: LeanUnaryServer,
  fallback: (stream: MuxStream) => void,
  logger: Logger,
): void {
  let head: Buffer | undefined;
  let call: LeanCall | undefined;
  let length = 0;
  let bodyChunks: Buffer[] = [];
  let bodyBytes = 0;
  let done = false;

  const onError = (err: Error) => {
    logger.debug('ipc http: stream error', { error: err.message });
  };
  const detach = () => {
    stream.off('data', onData);
    stream.off('end', onEnd);
  };
  const handOver = (read: Buffer) => {
    done = true;
    detach();
    stream.off('error', onError);
    // Paused while the bytes go back and node:http attaches; its 'data' listener does not resume
    // a stream paused explicitly, so resume it once node:http listens.
    stream.pause();
    if (read.length > 0) stream.unshift(read);
    fallback(stream);
    stream.resume();
  };
  const finish = () => {
    done = true;
    detach();
    // Anything the client still sends (the rest of a refused body) is read and dropped.
    stream.resume();
  };
  const onData = (chunk: Buffer) => {
    if (done) return;
    if (call === undefined) {
      head = head === undefined ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > MAX_HEAD_BYTES) handOver(head);
        return;
      }
      const parsed = parseHead(head.subarray(0, end).toString('latin1'));
      if (parsed === undefined) {
        handOver(head);
        return;
      }
      const accepted = lean.accept('POST', parsed.url, (name) => parsed.headers.get(name));
      if (accepted === undefined) {
        handOver(head);
        return;
      }
      const res = new StreamResponse(stream);
      if (accepted instanceof ConnectError) {
        finish();
        writeError(res, accepted);
        return;
      }
      call = accepted;
      const cl = parsed.headers.get('content-length');
      length = cl === undefined ? 0 : Number(cl);
      request = { url: parsed.url, host: parsed.headers.get('host'), rawHeaders: parsed.rawHeaders };
      response = res;
      chunk = head.subarray(end + 4);
      head = undefined;
    }
    if (chunk.length > 0) {
      bodyChunks.push(chunk);
      bodyBytes += chunk.length;
    }
    if (bodyBytes >= length) complete();
  };
  let request: { url: string; host: string | undefined; rawHeaders: string[] } | undefined;
  let response: StreamResponse | undefined;
  const complete = () => {
    finish();
    let body = bodyChunks.length === 1 ? bodyChunks[0]! : Buffer.concat(bodyChunks);
    bodyChunks = [];
    // Bytes past the declared length (a pipelined request after `Connection: close`) are ignored,
    // as node:http ignores them.
    if (body.length > length) body = body.subarray(0, length);
    lean.serve(call!, request!, body, response!);
  };
  const onEnd = () => {
    if (done) return;
    if (call === undefined) {
      // The peer finished before a whole head: node:http answers what it makes of the bytes.
      handOver(head ?? Buffer.alloc(0));
      return;
    }
    // The body is shorter than declared: node:http closes such a connection without an answer.
    done = true;
    detach();
    stream.destroy();
  };
  stream.on('error', onError);
  stream.on('data', onData);
  stream.on('end', onEnd);
}

interface ParsedHead {
  url: string;
  headers: Map<string, string>;
  rawHeaders: string[];
}

/**
 * Parses a request head strictly; `undefined` for anything the lean path leaves to node:http
 * (which answers a malformed head with its own 400).
 */
export function parseHead(text: string): ParsedHead | undefined {
  const lines = text.split('\r\n');
  const m = REQUEST_LINE.exec(lines[0]!);
  if (m === null) return undefined;
  const headers = new Map<string, string>();
  const rawHeaders: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const h = HEADER_LINE.exec(lines[i]!);
    if (h === null) return undefined;
    const name = h[1]!.toLowerCase();
    const value = h[2]!;
    if (STOCK_ONLY.has(name)) return undefined;
    if (headers.has(name)) {
      if (SINGLE.has(name)) return undefined;
      headers.set(name, `${headers.get(name)}, ${value}`);
    } else {
      headers.set(name, value);
    }
    rawHeaders.push(h[1]!, value);
  }
  // Only `Connection: close`: a keep-alive stream (and its idle timer) is node:http's.
  if (headers.get('connection')?.toLowerCase() !== 'close') return undefined;
  const cl = headers.get('content-length');
  if (cl !== undefined && !/^\d{1,15}$/.test(cl)) return undefined;
  return { url: m[1]!, headers, rawHeaders };
}

let dateSecond = -1;
let dateText = '';

/** The `Date` header's value, computed once a second (as node:http does). */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/**
 * The response side of a lean call on a stream: writes what node:http's ServerResponse writes for
 * `writeHead` + `end` (or `write`s) on a `Connection: close` request, then ends the stream.
 */
class StreamResponse extends EventEmitter implements LeanResponse {
  #stream: MuxStream;
  #head: string | undefined;
  #headersSent = false;
  #ended = false;

  constructor(stream: MuxStream) {
    super();
    this.#stream = stream;
    stream.once('close', () => this.emit('close'));
    stream.on('drain', () => this.emit('drain'));
  }

  get destroyed(): boolean {
    return this.#stream.destroyed;
  }

  get headersSent(): boolean {
    return this.#headersSent;
  }

  get writableFinished(): boolean {
    return this.#ended;
  }

  writeHead(status: number, headers: Record<string, string | string[]>): this {
    if (this.#headersSent || this.#head !== undefined) throw new Error('response head already written');
    let head = `HTTP/1.1 ${status} ${REASON_PHRASES[status] ?? 'unknown'}\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      if (Array.isArray(value)) for (const v of value) head += `${name}: ${checked(name, v)}\r\n`;
      else head += `${name}: ${checked(name, value)}\r\n`;
    }
    this.#head = `${head}Date: ${httpDate()}\r\nConnection: close\r\n\r\n`;
    return this;
  }

  write(chunk: Uint8Array | string, encoding?: BufferEncoding): boolean {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding ?? 'utf8') : chunk;
    return this.#stream.write(this.#withHead(bytes));
  }

  end(chunk?: Uint8Array): this {
    if (this.#ended) return this;
    this.#ended = true;
    this.#stream.write(this.#withHead(chunk ?? new Uint8Array(0)));
    // As node:http after a `Connection: close` response: end our side, destroy once it is flushed.
    this.#stream.destroySoon();
    return this;
  }

  destroy(error?: Error): this {
    this.#stream.destroy(error);
    return this;
  }

  #withHead(bytes: Uint8Array): Uint8Array {
    if (this.#head === undefined) {
      if (!this.#headersSent) throw new Error('response body written before its head');
      return bytes;
    }
    const head = Buffer.from(this.#head, 'latin1');
    this.#head = undefined;
    this.#headersSent = true;
    return bytes.byteLength === 0 ? head : Buffer.concat([head, bytes]);
  }
}

/** node:http refuses a header value with CR, LF or NUL (ERR_INVALID_CHAR); so does this writer. */
function checked(name: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new TypeError(`invalid character in header content ["${name}"]`);
  return value;
}
