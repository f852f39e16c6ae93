// Parsing a secrets file (JSON or .env) into entries, and a store that re-reads the file when it
// changes. Problems are reported by key (JSON) or line (.env), never with a value.
import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseEnv } from 'node:util';
import { type EnvelopeInit, isValidId, match, type SecretPattern } from '@secrets-engine/plugin-sdk';

export type FileFormat = 'json' | 'env';

/** `.json` files are JSON; everything else (`.env`, `.env.local`, `secrets.env`, ...) is dotenv. */
export function formatOf(path: string): FileFormat {
  return extname(path).toLowerCase() === '.json' ? 'json' : 'env';
}

/**
 * The IDs of a file's entries are `<mount>/<key>`, where the mount is the pattern's leading literal
 * components: `file/**` → `file`, `team/prod/**` → `team/prod`, `**` → none (keys are full IDs).
 */
export function mountOf(pattern: string): string {
  const literal: string[] = [];
  for (const component of pattern.split('/')) {
    if (component === '*' || component === '**') break;
    literal.push(component);
  }
  return literal.join('/');
}

export interface ParsedFile {
  entries: EnvelopeInit[];
  /** One line per skipped entry; none contains a value. */
  problems: string[];
}

/** Parses the text of a secrets file. Throws (without quoting the text) if the file as a whole is unusable. */
export function parseSecretsFile(text: string, format: FileFormat, pattern: SecretPattern): ParsedFile {
  const mount = mountOf(pattern);
  const entries: EnvelopeInit[] = [];
  const problems: string[] = [];
  const add = (key: string, where: string, init: Omit<EnvelopeInit, 'id'>) => {
    const id = mount === '' ? key : `${mount}/${key}`;
    if (!isValidId(id)) {
      problems.push(`${where}: ${JSON.stringify(id)} is not a valid secret ID (A-Z a-z 0-9 . _ - : and /)`);
      return;
    }
    if (!match(pattern, id)) {
      problems.push(`${where}: ${id} is outside the plugin's pattern ${pattern}`);
      return;
    }
    entries.push({ id, ...init });
  };

  if (format === 'env') {
    const lines = text.split(/\r?\n/);
    for (const [key, value] of Object.entries(parseEnv(text))) {
      if (value === undefined) continue;
      // parseEnv folds a malformed line into the next key ("PASSWORD hunter2\nNEXT"), so a bad key
      // may hold a value: name it by its line, never print it.
      if (!/^[A-Za-z0-9._:/-]+$/.test(key)) {
        const first = key.split('\n')[0] ?? '';
        const line = lines.findIndex((l) => l.trimStart().startsWith(first)) + 1;
        problems.push(
          `line ${line > 0 ? line : '?'}: not a KEY=value line, or the key is not a valid ID component`,
        );
        continue;
      }
      add(key, key, { value });
    }
    return { entries, problems };
  }

  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // V8 quotes the text around the error ("Unexpected token ... "{"a": s3cr3t}" is not valid JSON"):
    // keep only the position.
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new Error(`not valid JSON${position === undefined ? '' : ` (at position ${position})`}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error('expected a JSON object of {"id": "value"} or {"id": {"value": "..."}}');
  }
  for (const [key, spec] of Object.entries(raw)) {
    const entry = jsonEntry(spec);
    if (typeof entry === 'string') problems.push(`${JSON.stringify(key)}: ${entry}`);
    else add(key, JSON.stringify(key), entry);
  }
  return { entries, problems };
}

/** An entry's fields, or why it is unusable. */
function jsonEntry(spec: unknown): Omit<EnvelopeInit, 'id'> | string {
  if (typeof spec === 'string') return { value: spec };
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    return 'must be a string or an object {"value": "...", "metadata": {...}, "expiresAt": "..."}';
  }
  const { value, metadata, expiresAt, version, ...rest } = spec as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}`;
  if (typeof value !== 'string') return '"value" must be a string';
  const entry: Omit<EnvelopeInit, 'id'> = { value };
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      return '"metadata" must be an object of strings';
    }
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') return `metadata ${JSON.stringify(k)} must be a string`;
    }
    entry.metadata = metadata as Record<string, string>;
  }
  if (expiresAt !== undefined) {
    const date = typeof expiresAt === 'string' ? new Date(expiresAt) : undefined;
    if (date === undefined || Number.isNaN(date.getTime())) {
      return '"expiresAt" must be an ISO 8601 date, e.g. "2030-01-01T00:00:00Z"';
    }
    entry.expiresAt = date;
  }
  if (version !== undefined) {
    if (typeof version !== 'string') return '"version" must be a string';
    entry.version = version;
  }
  return entry;
}

export interface SecretsFileOptions {
  path: string;
  pattern: SecretPattern;
  /** Told about every load: how many entries, and the problems of that version of the file. */
  onLoad?: (result: { entries: number; problems: string[] }) => void;
}

/**
 * The entries of a secrets file, re-read when the file changes (checked with one stat() per call:
 * mtime, ctime, size and inode, so an editor's write-and-rename is seen too).
 */
export class SecretsFile {
  readonly path: string;
  readonly format: FileFormat;
  readonly #pattern: SecretPattern;
  readonly #onLoad: SecretsFileOptions['onLoad'];
  #stamp: string | undefined;
  #entries: EnvelopeInit[] = [];
  #loading: Promise<EnvelopeInit[]> | undefined;

  constructor(options: SecretsFileOptions) {
    this.path = options.path;
    this.format = formatOf(options.path);
    this.#pattern = options.pattern;
    this.#onLoad = options.onLoad;
  }

  /** The current entries. Rejects (without quoting the file) if the file cannot be read or parsed. */
  entries(): Promise<EnvelopeInit[]> {
    // Concurrent calls share one stat and at most one read.
    this.#loading ??= this.#refresh().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #refresh(): Promise<EnvelopeInit[]> {
    let stamp: string;
    let text: string;
    try {
      const info = await stat(this.path);
      stamp = `${info.mtimeMs}:${info.ctimeMs}:${info.size}:${info.ino}`;
      if (stamp === this.#stamp) return this.#entries;
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      this.#stamp = undefined;
      throw new Error(`cannot read secrets file ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    let parsed: ParsedFile;
    try {
      parsed = parseSecretsFile(text, this.format, this.#pattern);
    } catch (err) {
      this.#stamp = undefined;
      throw new Error(`secrets file ${this.path}: ${(err as Error).message}`);
    }
    this.#stamp = stamp;
    this.#entries = parsed.entries;
    this.#onLoad?.({ entries: parsed.entries.length, problems: parsed.problems });
    return parsed.entries;
  }
}
