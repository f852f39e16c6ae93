// Parsing the text of a secrets file (JSON or .env) into entries. Pure: no I/O. Problems are
// reported by key (JSON) or line (.env), never with a value.
import { parseEnv } from 'node:util';
import { type EnvelopeInit, isValidId, match, type SecretPattern } from '@secrets-engine/plugin-sdk';

/** `json` and `env` are one file; `dir` is a folder with one file per secret. */
export type SecretsFormat = 'json' | 'env' | 'dir';

/** An entry whose ID is valid but which cannot be served: a request naming its ID fails with `reason`. */
export interface RefusedEntry {
  id: string;
  reason: string;
}

export interface ParsedSecrets {
  entries: EnvelopeInit[];
  /** Entries with a valid ID that are unusable (a bad field, an insecure file in a folder, ...). */
  refused: RefusedEntry[];
  /** One line per skipped or refused entry, for the log; none contains a value. */
  problems: string[];
}

/**
 * The mount of a pattern: its leading literal components, under which the keys of a file are
 * served: `file/**` → `file`, `team/prod/**` → `team/prod`, `**` → `` (keys are full IDs).
 */
export function mountOf(pattern: string): string {
  const literal: string[] = [];
  for (const component of pattern.split('/')) {
    if (component === '*' || component === '**') break;
    literal.push(component);
  }
  return literal.join('/');
}

/** The ID of `key` under `mount`. */
export function idOf(mount: string, key: string): string {
  return mount === '' ? key : `${mount}/${key}`;
}

/** Collects entries, refusals and problems, checking each ID against the plugin's pattern. */
export class EntryCollector {
  readonly entries: EnvelopeInit[] = [];
  readonly refused: RefusedEntry[] = [];
  readonly problems: string[] = [];
  readonly #mount: string;
  readonly #pattern: SecretPattern;

  constructor(pattern: SecretPattern) {
    this.#pattern = pattern;
    this.#mount = mountOf(pattern);
  }

  /** The ID of `key`, or undefined (with a problem recorded as `where`) if it cannot be one. */
  id(key: string, where: string): string | undefined {
    const id = idOf(this.#mount, key);
    if (!isValidId(id)) {
      this.problems.push(
        `${where}: ${JSON.stringify(id)} is not a valid secret ID (components of A-Z a-z 0-9 . _ - :, joined by /)`,
      );
      return undefined;
    }
    if (!match(this.#pattern, id)) {
      this.problems.push(`${where}: ${id} is outside the plugin's pattern ${this.#pattern}`);
      return undefined;
    }
    return id;
  }

  add(entry: EnvelopeInit): void {
    this.entries.push(entry);
  }

  refuse(id: string, where: string, reason: string): void {
    this.refused.push({ id, reason });
    this.problems.push(`${where}: ${reason}`);
  }

  result(): ParsedSecrets {
    return { entries: this.entries, refused: this.refused, problems: this.problems };
  }
}

/**
 * Parses the text of a secrets file. Throws an Error (whose message never quotes the text) if the
 * file as a whole is unusable; a bad entry is skipped or refused, never the file.
 */
export function parseSecretsText(
  text: string,
  format: 'json' | 'env',
  pattern: SecretPattern,
): ParsedSecrets {
  const out = new EntryCollector(pattern);
  if (format === 'env') {
    parseEnvText(text, out);
  } else {
    parseJsonText(text, out);
  }
  return out.result();
}

function parseEnvText(text: string, out: EntryCollector): void {
  const lines = text.split(/\r?\n/);
  for (const [key, value] of Object.entries(parseEnv(text))) {
    if (value === undefined) continue;
    // parseEnv folds a malformed line into the next key ("PASSWORD hunter2\nNEXT"), so a bad key
    // may hold a value: name it by its line, never print it.
    if (!/^[A-Za-z0-9._:/-]+$/.test(key)) {
      const first = key.split('\n')[0] ?? '';
      const line = lines.findIndex((l) => l.trimStart().startsWith(first)) + 1;
      out.problems.push(
        `line ${line > 0 ? line : '?'}: not a KEY=value line, or the key is not a valid ID component`,
      );
      continue;
    }
    const id = out.id(key, key);
    if (id !== undefined) out.add({ id, value });
  }
}

function parseJsonText(text: string, out: EntryCollector): void {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // V8 quotes the text around the error ("Unexpected token ... "{"a": s3cr3t}" is not valid
    // JSON"): keep only the position.
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    if (position === undefined) throw new Error('not valid JSON');
    const before = text.slice(0, Number(position)).split('\n');
    throw new Error(`not valid JSON (line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error('expected a JSON object of {"key": "value"} or {"key": {"value": "..."}}');
  }
  for (const [key, spec] of Object.entries(raw)) {
    const where = JSON.stringify(key);
    const id = out.id(key, where);
    if (id === undefined) continue;
    const entry = jsonEntry(spec);
    if (typeof entry === 'string') out.refuse(id, where, entry);
    else out.add({ id, ...entry });
  }
}

/** An entry's fields, or why it is unusable (never quoting the value). */
function jsonEntry(spec: unknown): Omit<EnvelopeInit, 'id'> | string {
  if (typeof spec === 'string') return { value: spec };
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    return 'must be a string or an object {"value": "...", "metadata": {...}, "expiresAt": "...", "version": "..."}';
  }
  const { value, metadata, expiresAt, version, ...rest } = spec as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    return `unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: "value", "metadata", "expiresAt", "version"`;
  }
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
