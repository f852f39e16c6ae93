// A lean Connect unary handler for node:http (decisions.md "connect-perf §5"): serves unary POSTs with a binary
// or JSON body and no request compression on a short path — one body read (refused unread when its
// declared length is over the limit), unknown fields skipped, a lazily created handler context, one
// `res.end(body)` with Content-Length (a JSON body with large bytes fields: in chunks, yielding). It is wire-identical to connect-node's
// handler; everything it does not take (streaming, GET, compressed requests, other protocols)
// goes to connect-node's stock adapter.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  create,
  type DescMessage,
  type DescMethod,
  type DescMethodUnary,
  type DescService,
  fromBinary,
  fromJsonString,
  isMessage,
  type MessageShape,
  toBinary,
} from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  createContextValues,
  type HandlerContext,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from '@connectrpc/connect';
import {
  codeToHttpStatus,
  errorToJsonBytes,
  parseTimeout,
  trailerMux,
} from '@connectrpc/connect/protocol-connect';
import { encodeJsonBody, type JsonBody, writeJsonBody } from './json-response.js';

type UnaryImplFn = (request: MessageShape<DescMessage>, context: HandlerContext) => unknown;

interface Route {
  service: DescService;
  method: DescMethodUnary;
  impl: UnaryImplFn;
}

type Recorded =
  | { kind: 'service'; args: Parameters<ConnectRouter['service']> }
  | { kind: 'rpc'; args: Parameters<ConnectRouter['rpc']> };

/**
 * Runs `routes` once against a recording router: returns the unary implementations by path, and a
 * replay function that registers the same calls on connect's real router (for the stock path).
 */
export function recordRoutes(routes: (router: ConnectRouter) => void): {
  unary: Map<string, Route>;
  replay: (router: ConnectRouter) => void;
} {
  const unary = new Map<string, Route>();
  const calls: Recorded[] = [];
  // A route registered with its own options (interceptors, limits, compression) stays on the stock
  // path, which honours them; the lean handler only takes routes that run on the handler's options.
  const add = (service: DescService, method: DescMethod, impl: unknown, options: unknown) => {
    if (method.methodKind !== 'unary' || typeof impl !== 'function' || hasOptions(options)) return;
    const fn = impl as (...a: unknown[]) => unknown;
    unary.set(`/${service.typeName}/${method.name}`, {
      service,
      method: method as DescMethodUnary,
      impl: (req, ctx) => fn(req, ctx),
    });
  };
  const recorder = {
    handlers: [],
    service(service: DescService, implementation: Record<string, unknown>, options?: unknown) {
      calls.push({ kind: 'service', args: [service, implementation, options] as never });
      for (const method of service.methods) {
        const impl = implementation[method.localName];
        if (impl !== undefined)
          add(service, method, (impl as (...a: unknown[]) => unknown).bind(implementation), options);
      }
      return recorder;
    },
    rpc(method: DescMethod, impl: unknown, options?: unknown) {
      calls.push({ kind: 'rpc', args: [method, impl, options] as never });
      add(method.parent, method, impl, options);
      return recorder;
    },
  };
  routes(recorder as unknown as ConnectRouter);
  return {
    unary,
    replay(router) {
      for (const call of calls) {
        if (call.kind === 'service') router.service(...call.args);
        else router.rpc(...call.args);
      }
    },
  };
}

function hasOptions(options: unknown): boolean {
  return typeof options === 'object' && options !== null && Object.keys(options).length > 0;
}

export interface LeanHandlerOptions {
  interceptors: Interceptor[];
  /** The largest request body taken; a larger one is refused (resource_exhausted) unread. */
  readMaxBytes: number;
  /** The context values of a call, from its request (connect-node's `contextValues`). */
  contextValues?: ((req: IncomingMessage) => ContextValues) | undefined;
}

type AnyNext = (req: UnaryRequest) => Promise<UnaryResponse>;

/** The unary Connect content types, as connect-node accepts them: group 1 proto, group 2 JSON. */
const UNARY_CONTENT_TYPE = /^application\/(?:(proto)|(json)(?:;\s*charset=utf-?8)?)$/i;

/** Unknown fields are skipped, never kept: kept, 2-byte ones cost ~80 bytes each (issue 12 item 3). */
const BINARY_READ = { readUnknownFields: false } as const;
const JSON_READ = { ignoreUnknownFields: true } as const;

/**
 * What the lean path needs of a response: node:http's ServerResponse has it, and so has the
 * stream server's writer (stream-server.ts), which writes the same bytes straight to a yamux stream.
 */
export interface LeanResponse {
  readonly destroyed: boolean;
  readonly headersSent: boolean;
  readonly writableFinished: boolean;
  writeHead(status: number, headers: Record<string, string | string[]>): unknown;
  write(chunk: Uint8Array | string, encoding?: BufferEncoding): boolean;
  end(chunk?: Uint8Array): unknown;
  destroy(error?: Error): unknown;
  on(event: 'close' | 'drain', listener: () => void): unknown;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close' | 'drain', listener: () => void): unknown;
}

/** What the lean path needs of a request, besides its body. */
export interface LeanRequest {
  /** The request target, as sent. */
  readonly url: string;
  /** The Host header, if any. */
  readonly host: string | undefined;
  /** Header names and values as received, alternating (node:http's `rawHeaders`). */
  readonly rawHeaders: string[];
}

/** A request the lean path takes, judged from its head alone. */
export interface LeanCall {
  route: Route;
  json: boolean;
  timeoutMs: number | undefined;
}

/** The head of a unary request: method, target and a header lookup (lower-case names). */
export type HeaderLookup = (name: string) => string | undefined;

/** The lean unary server: judges a request head, then serves the call once its body is read. */
export interface LeanUnaryServer {
  /**
   * `undefined`: not for the lean path (the caller uses the stock one). A ConnectError: refused
   * from its head (a bad timeout, a declared length over the limit), to be written with
   * `writeError`. Otherwise the call, to be given its body.
   */
  accept(method: string, url: string, header: HeaderLookup): LeanCall | ConnectError | undefined;
  /** The limit error for a body of `size` bytes read so far (over `readMaxBytes`). */
  tooLarge(url: string, size: number, atLeast: boolean): ConnectError;
  readonly readMaxBytes: number;
  /** Decodes `body`, runs the interceptors and the implementation, writes the answer to `res`. */
  serve(call: LeanCall, req: LeanRequest, body: Buffer, res: LeanResponse, values?: ContextValues): void;
}

export function createLeanUnaryServer(
  routes: Map<string, Route>,
  options: LeanHandlerOptions,
): LeanUnaryServer {
  const interceptors = [...options.interceptors].reverse();
  const tooLarge = (url: string, size: number, atLeast: boolean) =>
    new ConnectError(
      `message size ${atLeast ? 'at least ' : ''}${size} is larger than configured readMaxBytes ${options.readMaxBytes} of ${url}`,
      Code.ResourceExhausted,
    );
  return {
    readMaxBytes: options.readMaxBytes,
    tooLarge,
    accept(method, url, header) {
      if (method !== 'POST') return undefined;
      const route = routes.get(url);
      if (route === undefined) return undefined;
      const ct = UNARY_CONTENT_TYPE.exec(header('content-type') ?? '');
      if (ct === null) return undefined;
      const ce = header('content-encoding');
      if (ce !== undefined && ce !== 'identity') return undefined;
      const pv = header('connect-protocol-version');
      if (pv !== undefined && pv !== '1') return undefined;
      const timeout = parseTimeout(header('connect-timeout-ms') ?? null, Number.MAX_SAFE_INTEGER);
      if (timeout.error !== undefined) return timeout.error;
      // A declared length over the limit is refused before a byte of the body is read (as
      // connect-node does); the body is then discarded.
      const declared = Number(header('content-length') ?? Number.NaN);
      if (declared > options.readMaxBytes) return tooLarge(url, declared, false);
      return { route, json: ct[2] !== undefined, timeoutMs: timeout.timeoutMs };
    },
    serve(call, req, body, res, values) {
      const { route, json } = call;
      let message: MessageShape<DescMessage>;
      try {
        message = json
          ? fromJsonString(route.method.input, body.toString('utf8'), JSON_READ)
          : fromBinary(route.method.input, body, BINARY_READ);
      } catch (err) {
        writeError(
          res,
          new ConnectError(
            `parse ${json ? 'json' : 'binary'}: ${(err as Error).message}`,
            Code.InvalidArgument,
          ),
        );
        return;
      }
      const ctx = new LazyContext(route, req, res, call.timeoutMs);
      if (values !== undefined) ctx.values = values;
      // The response's header and trailer are the context's, made only when read (issue 14).
      let own: UnaryResponse | undefined;
      const invoke: AnyNext = async (r) => {
        const out = await route.impl(r.message, ctx);
        const m = isMessage(out, route.method.output) ? out : create(route.method.output, out as never);
        own = {
          stream: false,
          service: route.service,
          method: route.method,
          get header() {
            return ctx.responseHeader;
          },
          get trailer() {
            return ctx.responseTrailer;
          },
          message: m,
        } as UnaryResponse;
        return own;
      };
      const chain = interceptors.reduce<AnyNext>((n, i) => i(n as never) as AnyNext, invoke);
      const request = {
        stream: false,
        service: route.service,
        method: route.method,
        requestMethod: 'POST',
        url: ctx.url,
        get signal() {
          return ctx.signal;
        },
        get header() {
          return ctx.requestHeader;
        },
        contextValues: ctx.values,
        message,
      } as unknown as UnaryRequest;
      let result: Promise<UnaryResponse>;
      try {
        result = chain(request);
      } catch (err) {
        result = Promise.reject(err);
      }
      ctx.race(result).then(
        (response) => {
          ctx.done();
          if (res.destroyed || res.headersSent) return;
          // Nobody set a header or trailer: nothing to mux (no Headers object made for the call).
          const out =
            response === own &&
            ctx.maybeResponseHeader === undefined &&
            ctx.maybeResponseTrailer === undefined
              ? {}
              : toNodeHeaders(trailerMux(response.header, response.trailer));
          if (!json) {
            const bytes = toBinary(route.method.output, response.message as never);
            out['content-type'] = 'application/proto';
            out['content-length'] = String(bytes.byteLength);
            res.writeHead(200, out);
            res.end(bytes);
            return;
          }
          // Large bytes fields are base64-encoded natively and in chunks (json-response.ts).
          let body: JsonBody;
          try {
            body = encodeJsonBody(route.method.output, response.message as never);
          } catch (err) {
            writeError(res, new ConnectError('internal error', Code.Internal, undefined, undefined, err));
            return;
          }
          out['content-type'] = 'application/json';
          out['content-length'] = String(body.byteLength);
          res.writeHead(200, out);
          if (body.parts.length === 1) {
            res.end(body.parts[0] as Buffer);
            return;
          }
          writeJsonBody(res, body).catch((err: unknown) => res.destroy(err as Error));
        },
        (err: unknown) => {
          ctx.done();
          // As connect-node: only a ConnectError says what went wrong; anything else is hidden.
          const error =
            err instanceof ConnectError
              ? err
              : new ConnectError('internal error', Code.Internal, undefined, undefined, err);
          writeError(res, error, ctx.maybeResponseHeader, ctx.maybeResponseTrailer);
        },
      );
    },
  };
}

/**
 * Returns a node:http handler that serves what it can and returns false for everything else,
 * which the caller passes to connect-node's stock adapter.
 */
export function createLeanUnaryHandler(
  server: LeanUnaryServer,
  options: LeanHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = req.url ?? '';
    const headers = req.headers;
    const call = server.accept(req.method ?? '', url, (name) => headers[name] as string | undefined);
    if (call === undefined) return false;
    if (call instanceof ConnectError) {
      writeError(res, call);
      return true;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > options.readMaxBytes) {
        refused = true;
        chunks.length = 0;
        writeError(res, server.tooLarge(url, size, true));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (refused) return;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const values = options.contextValues === undefined ? undefined : options.contextValues(req);
      server.serve(call, { url, host: headers.host, rawHeaders: req.rawHeaders }, body, res, values);
    });
    return true;
  };
}

/** A Connect error is always a JSON body, whatever the request's codec (as connect-node). */
export function writeError(res: LeanResponse, err: ConnectError, header?: Headers, trailer?: Headers): void {
  if (res.destroyed || res.headersSent) return;
  const body = errorToJsonBytes(err, {});
  const meta = trailerMux(header ?? new Headers(), trailer ?? new Headers());
  err.metadata.forEach((v, k) => {
    meta.append(k, v);
  });
  const out = toNodeHeaders(meta);
  out['content-type'] = 'application/json';
  out['content-length'] = String(body.byteLength);
  res.writeHead(codeToHttpStatus(err.code), out);
  res.end(body);
}

/** Headers as node:http's writeHead takes them: repeated names keep every value, in order. */
function toNodeHeaders(headers: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  headers.forEach((v, k) => {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  });
  return out;
}

/**
 * The reason of every signal aborted because its call finished. One instance for all calls: a
 * ConnectError per call (stack trace included) was 4% of a plugin's CPU at 64 in flight (issue 14,
 * docs/decisions.md); nothing reads its stack, and it never crosses the wire.
 */
let finished: ConnectError | undefined;
/** Made on first use: a ConnectError makes a Headers, and the first Headers loads undici (~25 ms). */
function callFinished(): ConnectError {
  finished ??= new ConnectError('the call has finished', Code.Canceled);
  return finished;
}

/**
 * A HandlerContext whose signal and header objects exist only once the implementation touches them
 * (connect creates 2-3 AbortControllers per call and aborts them on success).
 */
class LazyContext implements HandlerContext {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly requestMethod = 'POST';
  readonly protocolName = 'connect';
  readonly url: string;
  values: ContextValues = createContextValues();
  #req: LeanRequest;
  #res: LeanResponse;
  #timeoutMs: number | undefined;
  #deadline: number | undefined;
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;
  #finished = false;
  #onClose: (() => void) | undefined;

  constructor(route: Route, req: LeanRequest, res: LeanResponse, timeoutMs: number | undefined) {
    this.service = route.service;
    this.method = route.method;
    this.url = `http://${req.host ?? 'unix'}${req.url}`;
    this.#req = req;
    this.#res = res;
    this.#timeoutMs = timeoutMs;
    if (timeoutMs !== undefined) this.#deadline = Date.now() + timeoutMs;
  }

  timeoutMs = (): number | undefined =>
    this.#deadline === undefined ? undefined : this.#deadline - Date.now();

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      if (this.#finished) {
        controller.abort(callFinished());
        return controller.signal;
      }
      this.#onClose = () => {
        if (!this.#res.writableFinished)
          controller.abort(new ConnectError('the client went away', Code.Canceled));
      };
      this.#res.once('close', this.#onClose);
      // The client may have gone away before the implementation first asked for its signal.
      if (this.#res.destroyed && !this.#res.writableFinished) this.#onClose();
      if (this.#deadline !== undefined) {
        this.#timer = setTimeout(
          () =>
            controller.abort(
              new ConnectError(`the operation timed out after ${this.#timeoutMs} ms`, Code.DeadlineExceeded),
            ),
          Math.max(0, this.#deadline - Date.now()),
        );
      }
    }
    return this.#controller.signal;
  }

  /** One request header's value, as `requestHeader.get(name)` (values joined by ", "), made no Headers. */
  headerValue(name: string): string | null {
    if (this.#requestHeader !== undefined) return this.#requestHeader.get(name);
    const raw = this.#req.rawHeaders;
    let value: string | null = null;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) {
        // As undici: surrounding whitespace is not part of a value.
        const v = raw[i + 1]!.trim();
        value = value === null ? v : `${value}, ${v}`;
      }
    }
    return value;
  }

  get requestHeader(): Headers {
    if (this.#requestHeader === undefined) {
      const h = new Headers();
      const raw = this.#req.rawHeaders;
      for (let i = 0; i + 1 < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
      this.#requestHeader = h;
    }
    return this.#requestHeader;
  }

  get responseHeader(): Headers {
    this.#responseHeader ??= new Headers();
    return this.#responseHeader;
  }

  get responseTrailer(): Headers {
    this.#responseTrailer ??= new Headers();
    return this.#responseTrailer;
  }

  get maybeResponseHeader(): Headers | undefined {
    return this.#responseHeader;
  }

  get maybeResponseTrailer(): Headers | undefined {
    return this.#responseTrailer;
  }

  /** Resolves or rejects with `p`, or rejects with deadline_exceeded when the deadline passes. */
  race<T>(p: Promise<T>): Promise<T> {
    if (this.#deadline === undefined) return p;
    const remaining = this.#deadline - Date.now();
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(
        () => {
          const error = new ConnectError(
            `the operation timed out after ${this.#timeoutMs} ms`,
            Code.DeadlineExceeded,
          );
          // As with connect-node's handler, an implementation that honours its signal answers with its
          // own error: abort the signal first (its timer may be a tick behind this one) and give the
          // reaction one turn before cutting the call off.
          if (this.#controller !== undefined && !this.#controller.signal.aborted)
            this.#controller.abort(error);
          setImmediate(() => reject(error));
        },
        Math.max(0, remaining),
      );
      p.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(t);
          reject(e);
        },
      );
    });
  }

  /** The call is over: abort a signal that was handed out (as connect does) and drop timers. */
  done(): void {
    this.#finished = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#onClose !== undefined) this.#res.off('close', this.#onClose);
    this.#controller?.abort(callFinished());
  }
}

/**
 * `ctx.requestHeader.get(name)` for a lower-case `name`, without making a Headers object when `ctx`
 * is the lean path's (issue 14: undici's Headers validates every name and value it is given).
 */
export function requestHeaderValue(ctx: HandlerContext, name: string): string | null {
  return ctx instanceof LazyContext ? ctx.headerValue(name) : ctx.requestHeader.get(name);
}
