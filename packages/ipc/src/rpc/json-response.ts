// JSON responses that never hold the event loop for long (issue 12 item 7). protobuf-es writes a
// bytes field as base64 in plain JavaScript on Node 20 (about 225 ms per MiB: a 40 MB secret
// blocked every other client for 9 s). Here each bytes field of at least NATIVE_BASE64_MIN_BYTES
// is swapped, for the one synchronous toJsonString call, for a random 18-byte marker; the text is
// then cut at the markers, and the bytes are written between the pieces as base64 made by
// Buffer (native), at most BASE64_CHUNK_BYTES at a time, yielding to the event loop after each
// MiB and waiting for 'drain' when the client reads slower than we write. The bytes on the wire
// are exactly toJsonString's (same field order, same standard padded base64).
import { type DescMessage, type MessageShape, ScalarType, toJsonString } from '@bufbuild/protobuf';
import { type ReflectMessage, reflect } from '@bufbuild/protobuf/reflect';
import { nodeCrypto } from '../builtins.js';
import type { LeanResponse } from './unary-handler.js';

/** Bytes fields this long or longer are encoded natively and in chunks; shorter ones by protobuf-es. */
export const NATIVE_BASE64_MIN_BYTES = 256;
/** Input bytes per base64 chunk: a multiple of 3, so that the chunks concatenate to one base64. */
const BASE64_CHUNK_BYTES = 3 * 256 * 1024;
/** Yield to the event loop after writing this much without waiting for 'drain'. */
const YIELD_AFTER_BYTES = 1024 * 1024;

const PREFIX_BYTES = 12; // 16 base64 characters, no padding: never split across a marker
const INDEX_BYTES = 6; // 8 base64 characters

/** A JSON body: text pieces and, between them, bytes fields still to be written as base64. */
export interface JsonBody {
  /** Content-Length of the whole body. */
  readonly byteLength: number;
  readonly parts: ReadonlyArray<Buffer | { readonly base64Of: Uint8Array }>;
}

/**
 * The JSON form of `message`, as toJsonString writes it, with its large bytes fields left to
 * `writeJsonBody`. The message is changed during the call (markers swapped in) and restored
 * before it returns; nothing else runs in between.
 */
export function encodeJsonBody<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): JsonBody {
  const prefix = nodeCrypto().randomBytes(PREFIX_BYTES);
  const large: Uint8Array[] = [];
  const restore: Array<() => void> = [];
  const marker = (value: Uint8Array): Uint8Array => {
    const m = Buffer.alloc(PREFIX_BYTES + INDEX_BYTES);
    prefix.copy(m);
    m.writeUIntBE(large.length, PREFIX_BYTES, INDEX_BYTES);
    large.push(value);
    return m;
  };
  let json: string;
  try {
    collect(reflect(schema, message), marker, restore);
    json = toJsonString(schema, message);
  } finally {
    for (let i = restore.length - 1; i >= 0; i--) restore[i]!();
  }
  if (large.length === 0) {
    const body = Buffer.from(json);
    return { byteLength: body.length, parts: [body] };
  }
  const needle = `"${prefix.toString('base64')}`;
  const markerChars = 1 + ((PREFIX_BYTES + INDEX_BYTES) / 3) * 4;
  const parts: Array<Buffer | { base64Of: Uint8Array }> = [];
  const seen = new Set<number>();
  let byteLength = 0;
  let at = 0;
  for (let i = json.indexOf(needle, at); i >= 0; i = json.indexOf(needle, at)) {
    const index = Buffer.from(json.slice(i + 1, i + markerChars), 'base64').readUIntBE(
      PREFIX_BYTES,
      INDEX_BYTES,
    );
    const value = large[index];
    if (value === undefined || seen.has(index) || json[i + markerChars] !== '"') {
      throw new Error('JSON encoding: a bytes field marker was not found where it was put');
    }
    seen.add(index);
    const text = Buffer.from(json.slice(at, i + 1));
    parts.push(text, { base64Of: value });
    byteLength += text.length + Math.ceil(value.length / 3) * 4;
    at = i + markerChars;
  }
  if (seen.size !== large.length) throw new Error('JSON encoding: a bytes field marker is missing');
  const tail = Buffer.from(json.slice(at));
  parts.push(tail);
  byteLength += tail.length;
  return { byteLength, parts };
}

/** Swaps every large bytes field under `r` for a marker, recording how to put it back. */
function collect(r: ReflectMessage, marker: (v: Uint8Array) => Uint8Array, restore: Array<() => void>): void {
  // Any is written through the registry from its packed bytes: leave it whole.
  if (r.desc.typeName === 'google.protobuf.Any') return;
  for (const field of r.fields) {
    if (!r.isSet(field)) continue;
    switch (field.fieldKind) {
      case 'scalar': {
        if (field.scalar !== ScalarType.BYTES) break;
        const value = r.get(field) as Uint8Array;
        if (value.length < NATIVE_BASE64_MIN_BYTES) break;
        r.set(field, marker(value));
        restore.push(() => r.set(field, value));
        break;
      }
      case 'message':
        collect(r.get(field), marker, restore);
        break;
      case 'list': {
        const list = r.get(field);
        if (field.listKind === 'message') {
          for (const item of list) collect(item as ReflectMessage, marker, restore);
        } else if (field.listKind === 'scalar' && field.scalar === ScalarType.BYTES) {
          for (let i = 0; i < list.size; i++) {
            const value = list.get(i) as Uint8Array;
            if (value.length < NATIVE_BASE64_MIN_BYTES) continue;
            list.set(i, marker(value));
            restore.push(() => list.set(i, value));
          }
        }
        break;
      }
      case 'map': {
        const map = r.get(field);
        if (field.mapKind === 'message') {
          for (const item of map.values()) collect(item as ReflectMessage, marker, restore);
        } else if (field.mapKind === 'scalar' && field.scalar === ScalarType.BYTES) {
          for (const [key, item] of [...map.entries()]) {
            const value = item as Uint8Array;
            if (value.length < NATIVE_BASE64_MIN_BYTES) continue;
            map.set(key, marker(value));
            restore.push(() => map.set(key, value));
          }
        }
        break;
      }
    }
  }
}

/**
 * Writes `body` to `res` and ends it, giving the event loop back after each MiB and waiting for
 * 'drain' when the client is behind. Stops, without ending, if the response is destroyed (the
 * client went away).
 */
export async function writeJsonBody(res: LeanResponse, body: JsonBody): Promise<void> {
  let closed = false;
  res.once('close', () => {
    closed = true;
  });
  const gone = () => closed || res.destroyed;
  let sinceYield = 0;
  const sent = async (ok: boolean, n: number): Promise<void> => {
    sinceYield += n;
    if (!ok) {
      sinceYield = 0;
      await drainOrClose(res);
    } else if (sinceYield >= YIELD_AFTER_BYTES) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
  for (const part of body.parts) {
    if (gone()) return;
    if (Buffer.isBuffer(part)) {
      await sent(res.write(part), part.length);
      continue;
    }
    const bytes = part.base64Of;
    for (let off = 0; off < bytes.length; off += BASE64_CHUNK_BYTES) {
      if (gone()) return;
      const n = Math.min(BASE64_CHUNK_BYTES, bytes.length - off);
      const chunk = Buffer.from(bytes.buffer, bytes.byteOffset + off, n).toString('base64');
      await sent(res.write(chunk, 'latin1'), chunk.length);
    }
  }
  if (!gone()) res.end();
}

function drainOrClose(res: LeanResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
