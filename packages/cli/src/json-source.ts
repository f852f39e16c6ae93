// A strict JSON (RFC 8259) parser that keeps where every value and key starts (line and column,
// 1-based), so that the configuration file's errors name FILE:LINE:COL (config.ts). JSON.parse
// cannot: it gives no positions for values, and Node 20 reports a syntax error by offset only.
// Objects keep their keys in the order written (also "1" and "10", which a JavaScript object
// would reorder), and stringifyJson writes the tree back in that order. A duplicate key is an
// error: JSON.parse would keep the last silently.

export interface JsonPosition {
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units of the line. */
  column: number;
  offset: number;
}

export type JsonNode =
  | { kind: 'object'; entries: JsonEntry[]; at: JsonPosition }
  | { kind: 'array'; items: JsonNode[]; at: JsonPosition }
  | { kind: 'string'; value: string; at: JsonPosition }
  | { kind: 'number'; value: number; at: JsonPosition }
  | { kind: 'boolean'; value: boolean; at: JsonPosition }
  | { kind: 'null'; value: null; at: JsonPosition };

export interface JsonEntry {
  key: string;
  keyAt: JsonPosition;
  value: JsonNode;
}

export class JsonSyntaxError extends Error {
  static {
    JsonSyntaxError.prototype.name = 'JsonSyntaxError';
  }
  readonly at: JsonPosition;
  constructor(message: string, at: JsonPosition) {
    super(message);
    this.at = at;
  }
}

/** A depth no configuration needs; deeper input is refused instead of exhausting the stack. */
const MAX_DEPTH = 64;

export function parseJson(text: string): JsonNode {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  // Line starts, found as we go (positions are asked for in increasing order, mostly).
  let line = 1;
  let lineStart = 0;
  let scanned = 0;
  const pos = (offset: number): JsonPosition => {
    if (offset < scanned) {
      // Rare (an error about an earlier token): count again from the start.
      line = 1;
      lineStart = 0;
      scanned = 0;
    }
    for (; scanned < offset; scanned++) {
      if (text.charCodeAt(scanned) === 0x0a) {
        line++;
        lineStart = scanned + 1;
      }
    }
    return { line, column: offset - lineStart + 1, offset };
  };
  const fail = (message: string, offset = i): never => {
    throw new JsonSyntaxError(message, pos(offset));
  };
  const describe = (offset: number): string => {
    if (offset >= text.length) return 'the end of the file';
    const c = text.codePointAt(offset)!;
    return c < 0x20
      ? `the control character U+${c.toString(16).padStart(4, '0')}`
      : JSON.stringify(String.fromCodePoint(c));
  };
  const space = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else if (c === 0x2f && (text[i + 1] === '/' || text[i + 1] === '*')) fail('comments are not JSON');
      else return;
    }
  };
  const expect = (ch: string, what: string) => {
    if (text[i] !== ch) fail(`expected ${what}, found ${describe(i)}`);
    i++;
  };

  const string = (): string => {
    const start = i;
    i++; // "
    let out = '';
    let run = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(run, i);
        i++;
        return out;
      }
      if (c < 0x20) fail(`${describe(i)} must be escaped in a string`);
      if (c === 0x5c) {
        out += text.slice(run, i);
        const e = text[i + 1];
        const simple: Record<string, string> = {
          '"': '"',
          '\\': '\\',
          '/': '/',
          b: '\b',
          f: '\f',
          n: '\n',
          r: '\r',
          t: '\t',
        };
        if (e !== undefined && simple[e] !== undefined) {
          out += simple[e];
          i += 2;
        } else if (e === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('\\u must be followed by four hexadecimal digits');
          out += String.fromCharCode(Number.parseInt(hex, 16));
          i += 6;
        } else {
          fail(`invalid escape ${JSON.stringify(`\\${e ?? ''}`)} in a string`);
        }
        run = i;
        continue;
      }
      i++;
    }
  };

  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const value = (depth: number): JsonNode => {
    space();
    const start = i;
    const at = () => pos(start);
    const c = text[i];
    if (c === '{') {
      if (depth >= MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH} levels`);
      const node: JsonNode = { kind: 'object', entries: [], at: at() };
      i++;
      space();
      if (text[i] === '}') {
        i++;
        return node;
      }
      const seen = new Set<string>();
      for (;;) {
        space();
        if (text[i] !== '"') fail(`expected a key in double quotes, found ${describe(i)}`);
        const keyStart = i;
        const keyAt = pos(keyStart);
        const key = string();
        if (seen.has(key)) fail(`duplicate key ${JSON.stringify(key)}`, keyStart);
        seen.add(key);
        space();
        expect(':', `":" after the key ${JSON.stringify(key)}`);
        node.entries.push({ key, keyAt, value: value(depth + 1) });
        space();
        if (text[i] === ',') {
          i++;
          space();
          if (text[i] === '}') fail('trailing comma before "}"');
          continue;
        }
        expect('}', '"," or "}"');
        return node;
      }
    }
    if (c === '[') {
      if (depth >= MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH} levels`);
      const node: JsonNode = { kind: 'array', items: [], at: at() };
      i++;
      space();
      if (text[i] === ']') {
        i++;
        return node;
      }
      for (;;) {
        node.items.push(value(depth + 1));
        space();
        if (text[i] === ',') {
          i++;
          space();
          if (text[i] === ']') fail('trailing comma before "]"');
          continue;
        }
        expect(']', '"," or "]"');
        return node;
      }
    }
    if (c === '"') return { kind: 'string', value: string(), at: at() };
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v === null ? { kind: 'null', value: null, at: at() } : { kind: 'boolean', value: v, at: at() };
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m !== null && m[0] !== '-') {
      i += m[0].length;
      const n = Number(m[0]);
      if (!Number.isFinite(n)) fail(`the number ${m[0]} is too large`, start);
      return { kind: 'number', value: n, at: at() };
    }
    if (c === "'") fail('strings must be in double quotes');
    return fail(`expected a value, found ${describe(i)}`);
  };

  const root = value(0);
  space();
  if (i < text.length) fail(`unexpected ${describe(i)} after the value`);
  return root;
}

/** The plain JavaScript value of a node (objects as null-prototype records). */
export function toValue(node: JsonNode): unknown {
  switch (node.kind) {
    case 'object': {
      const out: Record<string, unknown> = Object.create(null);
      for (const e of node.entries) out[e.key] = toValue(e.value);
      return out;
    }
    case 'array':
      return node.items.map(toValue);
    default:
      return node.value;
  }
}

/** Writes `node` as JSON indented by two spaces, object keys in their order; a final newline. */
export function stringifyJson(node: JsonNode): string {
  const write = (n: JsonNode, indent: string): string => {
    const inner = `${indent}  `;
    if (n.kind === 'object') {
      if (n.entries.length === 0) return '{}';
      const parts = n.entries.map((e) => `${inner}${JSON.stringify(e.key)}: ${write(e.value, inner)}`);
      return `{\n${parts.join(',\n')}\n${indent}}`;
    }
    if (n.kind === 'array') {
      if (n.items.length === 0) return '[]';
      if (n.items.every((item) => item.kind !== 'object' && item.kind !== 'array')) {
        return `[${n.items.map((item) => write(item, inner)).join(', ')}]`;
      }
      return `[\n${n.items.map((item) => `${inner}${write(item, inner)}`).join(',\n')}\n${indent}]`;
    }
    return JSON.stringify(n.value);
  };
  return `${write(node, '')}\n`;
}
