// A minimal HTTP/1.1 response reader for unary calls on a yamux stream: status line, headers, and
// a body framed by Content-Length, chunked transfer coding, or the end of the stream. It accepts
// what Node's http server and Go's net/http send; anything else is a clear protocol error.

export interface Http1Response {
  status: number;
  /** Header names lower-cased; repeated headers keep every value, in order. */
  headers: Array<[string, string]>;
  body: Buffer;
}

export class Http1ProtocolError extends Error {
  override name = 'Http1ProtocolError';
}

const MAX_HEAD = 64 * 1024;

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

  constructor(maxBody: number) {
    this.#maxBody = maxBody;
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
        if (this.#buf.length > MAX_HEAD)
          throw new Http1ProtocolError(`response head exceeds ${MAX_HEAD} bytes`);
        return false;
      }
      const lines = this.#buf.subarray(0, end).toString('latin1').split('\r\n');
      this.#buf = this.#buf.subarray(end + 4);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
      if (m === null) throw new Http1ProtocolError(`malformed status line ${JSON.stringify(lines[0])}`);
      const status = Number(m[1]);
      if (status >= 100 && status < 200) continue; // 100 Continue and friends: skip, read on
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
        if (this.#remaining > this.#maxBody) {
          throw new Http1ProtocolError(
            `response body of ${this.#remaining} bytes exceeds the limit of ${this.#maxBody}`,
          );
        }
      } else if (status === 204 || status === 304) {
        this.#mode = 'length';
        this.#remaining = 0;
      }
      this.#headDone = true;
      return true;
    }
  }

  #parseBody(): Http1Response | undefined {
    if (this.#mode === 'eof') {
      this.#append(this.#buf);
      this.#buf = Buffer.alloc(0);
      return undefined;
    }
    if (this.#mode === 'length') {
      const take = Math.min(this.#remaining, this.#buf.length);
      this.#append(this.#buf.subarray(0, take));
      this.#buf = this.#buf.subarray(take);
      this.#remaining -= take;
      return this.#remaining === 0 ? this.#finish() : undefined;
    }
    // chunked: <hex>[;ext]\r\n<data>\r\n ... 0\r\n[trailers]\r\n
    for (;;) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, this.#buf.length);
        this.#append(this.#buf.subarray(0, take));
        this.#buf = this.#buf.subarray(take);
        this.#remaining -= take;
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

  #append(data: Buffer): void {
    if (data.length === 0) return;
    this.#bodyBytes += data.length;
    if (this.#bodyBytes > this.#maxBody) {
      throw new Http1ProtocolError(`response body exceeds the limit of ${this.#maxBody} bytes`);
    }
    this.#body.push(data);
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
