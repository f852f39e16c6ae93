// The one HTTP/1.x response reader of the package: status line, headers, and a body framed by
// Content-Length, chunked transfer coding, or the end of the stream. The lean unary client reads
// every response with it, and the /hijack dialer reads the engine's 101 (or its refusal) with it
// (protocol.md §2.3, §3.2). It accepts what Node's http server and Go's net/http send, including
// the `HTTP/0.0 101` of a Go engine's hijack; anything else is a clear protocol error.

export interface Http1Response {
  status: number;
  /** Header names lower-cased; repeated headers keep every value, in order. */
  headers: Array<[string, string]>;
  body: Buffer;
}

export class Http1ProtocolError extends Error {
  override name = 'Http1ProtocolError';
}

export interface Http1ParserOptions {
  /** Largest body accepted, in bytes. */
  maxBody: number;
  /**
   * 'error' (default): a longer body is a protocol error. 'truncate': the body is cut at `maxBody`
   * and the response completes there (a refusal read only for its message).
   */
  overflow?: 'error' | 'truncate';
  /**
   * 'skip' (default): interim 1xx responses (100 Continue) are skipped. 'return': a 1xx head is the
   * response, with no body, and the bytes after it stay in `rest()` (101 Switching Protocols).
   */
  informational?: 'skip' | 'return';
  /** Largest response head. Default 64 KiB. */
  maxHead?: number;
}

/** One status-line rule for every reader: `HTTP/<digit>.<digit> <3 digits>[ reason]`. */
const STATUS_LINE = /^HTTP\/\d\.\d (\d{3})(?: |$)/;

/** Incremental parser: feed chunks, then `end()` when the stream ended. */
export class Http1ResponseParser {
  #buf: Buffer = Buffer.alloc(0);
  #status = 0;
  #headers: Array<[string, string]> = [];
  #headDone = false;
  #mode: 'length' | 'chunked' | 'eof' = 'eof';
  #remaining = 0;
  #body: Buffer[] = [];
  #bodyBytes = 0;
  #done = false;
  readonly #maxBody: number;
  readonly #truncate: boolean;
  readonly #returnInformational: boolean;
  readonly #maxHead: number;

  constructor(limits: number | Http1ParserOptions) {
    const o = typeof limits === 'number' ? { maxBody: limits } : limits;
    this.#maxBody = o.maxBody;
    this.#truncate = o.overflow === 'truncate';
    this.#returnInformational = o.informational === 'return';
    this.#maxHead = o.maxHead ?? 64 * 1024;
  }

  /** The status, once the head has been read. */
  get status(): number | undefined {
    return this.#headDone ? this.#status : undefined;
  }

  /** The body read so far (a response cut short by a close or a timeout). */
  partialBody(): Buffer {
    return Buffer.concat(this.#body);
  }

  /** Bytes received after the complete response (after a 101: the upgraded protocol's first bytes). */
  rest(): Buffer {
    return this.#done ? this.#buf : Buffer.alloc(0);
  }

  /** Feeds bytes; returns the response once it is complete. */
  push(chunk: Buffer): Http1Response | undefined {
    if (this.#done) return undefined;
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    if (!this.#headDone && !this.#parseHead()) return undefined;
    return this.#parseBody();
  }

  /** The stream ended: returns the response if the framing allows an end here, else throws. */
  end(): Http1Response {
    if (this.#done) throw new Http1ProtocolError('response already complete');
    if (!this.#headDone) throw new Http1ProtocolError('stream ended before the response head');
    if (this.#mode !== 'eof') {
      throw new Http1ProtocolError(`stream ended inside the response body (${this.#mode} framing)`);
    }
    this.#append(this.#buf);
    this.#buf = Buffer.alloc(0);
    return this.#finish();
  }

  #parseHead(): boolean {
    for (;;) {
      const end = this.#buf.indexOf('\r\n\r\n');
      if (end === -1) {
        if (this.#buf.length > this.#maxHead)
          throw new Http1ProtocolError(`response head exceeds ${this.#maxHead} bytes`);
        // A status line can be judged before the head is complete (a peer that is not HTTP at all).
        const eol = this.#buf.indexOf('\r\n');
        if (eol !== -1) this.#statusOf(this.#buf.subarray(0, eol).toString('latin1'));
        return false;
      }
      const lines = this.#buf.subarray(0, end).toString('latin1').split('\r\n');
      this.#buf = this.#buf.subarray(end + 4);
      const status = this.#statusOf(lines[0] ?? '');
      if (status >= 100 && status < 200 && !this.#returnInformational) continue; // 100 Continue: read on
      this.#status = status;
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i]!;
        const colon = line.indexOf(':');
        if (colon <= 0) throw new Http1ProtocolError(`malformed header line ${JSON.stringify(line)}`);
        this.#headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
      }
      const te = this.#header('transfer-encoding');
      const cl = this.#header('content-length');
      if (te !== undefined && /(?:^|,)\s*chunked\s*$/i.test(te)) {
        this.#mode = 'chunked';
      } else if (cl !== undefined) {
        if (!/^\d+$/.test(cl)) throw new Http1ProtocolError(`invalid content-length ${JSON.stringify(cl)}`);
        this.#mode = 'length';
        this.#remaining = Number(cl);
        if (this.#remaining > this.#maxBody && !this.#truncate) {
          throw new Http1ProtocolError(
            `response body of ${this.#remaining} bytes exceeds the limit of ${this.#maxBody}`,
          );
        }
      } else if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
        this.#mode = 'length';
        this.#remaining = 0;
      }
      this.#headDone = true;
      return true;
    }
  }

  #statusOf(line: string): number {
    const m = STATUS_LINE.exec(line);
    if (m === null) throw new Http1ProtocolError(`malformed status line ${JSON.stringify(line)}`);
    return Number(m[1]);
  }

  #parseBody(): Http1Response | undefined {
    if (this.#mode === 'eof') {
      const full = this.#append(this.#buf);
      this.#buf = Buffer.alloc(0);
      return full ? this.#finish() : undefined;
    }
    if (this.#mode === 'length') {
      if (this.#remaining === 0) return this.#finish();
      const take = Math.min(this.#remaining, this.#buf.length);
      const full = this.#append(this.#buf.subarray(0, take));
      this.#buf = this.#buf.subarray(take);
      this.#remaining -= take;
      return this.#remaining === 0 || full ? this.#finish() : undefined;
    }
    // chunked: <hex>[;ext]\r\n<data>\r\n ... 0\r\n[trailers]\r\n
    for (;;) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, this.#buf.length);
        const full = this.#append(this.#buf.subarray(0, take));
        this.#buf = this.#buf.subarray(take);
        this.#remaining -= take;
        if (full) return this.#finish();
        if (this.#remaining > 0) return undefined;
        this.#remaining = -2; // expect CRLF after the data
      }
      if (this.#remaining === -2) {
        if (this.#buf.length < 2) return undefined;
        if (this.#buf[0] !== 13 || this.#buf[1] !== 10)
          throw new Http1ProtocolError('missing CRLF after chunk data');
        this.#buf = this.#buf.subarray(2);
        this.#remaining = 0;
      }
      const eol = this.#buf.indexOf('\r\n');
      if (eol === -1) {
        if (this.#buf.length > 1024) throw new Http1ProtocolError('chunk size line too long');
        return undefined;
      }
      const sizeText = this.#buf.subarray(0, eol).toString('latin1').split(';')[0]!.trim();
      if (!/^[0-9a-fA-F]+$/.test(sizeText))
        throw new Http1ProtocolError(`invalid chunk size ${JSON.stringify(sizeText)}`);
      const size = Number.parseInt(sizeText, 16);
      if (size === 0) {
        // Last chunk: skip optional trailer fields up to the empty line.
        const end = this.#buf.indexOf('\r\n\r\n', eol);
        if (end === -1) return undefined;
        for (const line of this.#buf
          .subarray(eol + 2, end)
          .toString('latin1')
          .split('\r\n')) {
          const colon = line.indexOf(':');
          if (colon > 0)
            this.#headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
        }
        this.#buf = this.#buf.subarray(end + 4);
        return this.#finish();
      }
      this.#buf = this.#buf.subarray(eol + 2);
      this.#remaining = size;
    }
  }

  /** Adds body bytes; true when a truncating parser has its `maxBody` bytes (the response is done). */
  #append(data: Buffer): boolean {
    if (data.length === 0) return false;
    if (this.#bodyBytes + data.length > this.#maxBody) {
      if (!this.#truncate) {
        throw new Http1ProtocolError(`response body exceeds the limit of ${this.#maxBody} bytes`);
      }
      data = data.subarray(0, this.#maxBody - this.#bodyBytes);
    }
    this.#bodyBytes += data.length;
    this.#body.push(data);
    return this.#truncate && this.#bodyBytes >= this.#maxBody;
  }

  #finish(): Http1Response {
    this.#done = true;
    const body = this.#body.length === 1 ? this.#body[0]! : Buffer.concat(this.#body);
    return { status: this.#status, headers: this.#headers, body };
  }

  #header(name: string): string | undefined {
    for (const [k, v] of this.#headers) if (k === name) return v;
    return undefined;
  }
}
