// `run --env-file FILE`: KEY=VALUE files read by dotenv's parser (the format's reference
// implementation, docs/decisions.md), with what dotenv silently skips refused instead, naming the
// file and line: a line that is not KEY=VALUE, a comment or blank; a quote that is never closed;
// text after a closing quote. A value never appears in an error message.
import { readFileSync } from 'node:fs';
import { CliError, ExitCode, errorMessage } from './errors.js';

/** A KEY=VALUE file that cannot be read as one (exit 1); the message names the file and line. */
export class EnvFileError extends CliError {
  static {
    EnvFileError.prototype.name = 'EnvFileError';
  }
  constructor(
    readonly path: string,
    readonly line: number | undefined,
    problem: string,
    options: { cause?: unknown } = {},
  ) {
    super(
      `env file ${path}${line === undefined ? '' : `, line ${line}`}: ${problem}`,
      ExitCode.error,
      options,
    );
  }
}

const ENTRY = /^\s*(?:export\s+)?([\w.-]+)(?:\s*=|:\s)\s*/;

type Parse = (text: string) => Record<string, string>;

/**
 * Reads and parses each file in order, later files winning. dotenv is loaded only here (~9 ms), so
 * a `run` without env files does not pay for it.
 */
export async function readEnvFiles(paths: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (paths.length === 0) return out;
  const { parse } = (await import('dotenv')) as { parse: Parse };
  for (const path of paths) Object.assign(out, readEnvFile(path, parse));
  return out;
}

function readEnvFile(path: string, parse: Parse): Record<string, string> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ENOENT'
        ? `env file ${path} does not exist`
        : `cannot read env file ${path}: ${errorMessage(err)}`,
      ExitCode.error,
      { cause: err },
    );
  }
  return parseEnvFile(bytes, path, parse);
}

/** Parses the bytes of an env file; EnvFileError naming `path` and the line when one is wrong. */
export function parseEnvFile(bytes: Uint8Array, path: string, parse: Parse): Record<string, string> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (err) {
    throw new EnvFileError(path, undefined, 'not UTF-8 text', { cause: err });
  }
  text = text.replace(/\r\n?/g, '\n');
  const keys = checkLines(text, path);
  const parsed = parse(text);
  // The two readings agree on which variables there are, or we refuse rather than guess.
  for (const [key, line] of keys) {
    if (!Object.hasOwn(parsed, key)) {
      throw new EnvFileError(path, line, `${key} could not be parsed (check its quoting)`);
    }
  }
  for (const key of Object.keys(parsed)) {
    if (!keys.has(key))
      throw new EnvFileError(path, undefined, `${key} could not be parsed (check its quoting)`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (value.includes('\0'))
      throw new EnvFileError(path, keys.get(key), `the value of ${key} contains a NUL byte`);
    out[key] = value;
  }
  return out;
}

/** The structure of the file, line by line: the keys it sets and the line of each (the last). */
function checkLines(text: string, path: string): Map<string, number> {
  const lines = text.split('\n');
  const keys = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const number = i + 1;
    const line = lines[i]!;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const entry = ENTRY.exec(line);
    if (entry === null) {
      throw new EnvFileError(
        path,
        number,
        'not KEY=VALUE, a # comment or blank (KEY: letters, digits, _ . -; VALUE: plain, or in \'\', "" or ``)',
      );
    }
    const key = entry[1]!;
    keys.set(key, number);
    const value = line.slice(entry[0].length);
    const quote = value[0];
    if (quote !== '"' && quote !== "'" && quote !== '`') continue;
    // A quoted value ends at the next unescaped same quote, on this line or a later one.
    let rest = value.slice(1);
    let end = closingQuote(rest, quote);
    let last = i;
    while (end === -1 && last + 1 < lines.length) {
      last++;
      rest += `\n${lines[last]}`;
      end = closingQuote(rest, quote);
    }
    if (end === -1)
      throw new EnvFileError(path, number, `the ${quote} quote of ${key}'s value is never closed`);
    const after = rest.slice(end + 1).trim();
    if (after !== '' && !after.startsWith('#')) {
      throw new EnvFileError(path, last + 1, `text after the closing ${quote} of ${key}'s value`);
    }
    i = last;
  }
  return keys;
}

function closingQuote(text: string, quote: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && text[i + 1] === quote) i++;
    else if (text[i] === quote) return i;
  }
  return -1;
}
