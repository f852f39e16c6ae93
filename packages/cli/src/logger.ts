// The serve command's logger: the runtime's Logger interface, printed as readable lines on stderr,
//   HH:MM:SS.mmm LEVEL message key=value ...
// filtered by level. Secret values never reach it by design (libraries log no values); as a second
// line of defence it prints envelopes in their redacted form, bytes as their length, and the
// attributes named like a secret (value, secret, password, token) as <redacted>.
import type { Logger } from '@secrets-engine/runtime';
import { isEnvelope } from '@secrets-engine/secrets';
import { safeText } from './text.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export interface CliLoggerInit {
  /** Lines below this level are dropped. Default info. */
  level?: LogLevel;
  /** Where lines go (each ends with a newline). Default process.stderr. */
  write?: (line: string) => void;
  /** The clock. Default `new Date()`. */
  now?: () => Date;
}

const SECRET_KEYS = /^(value|secret|secrets|password|passwd|token|credentials?)$/i;

export function createCliLogger(init: CliLoggerInit = {}): Logger {
  const threshold = LOG_LEVELS.indexOf(init.level ?? 'info');
  const write = init.write ?? ((line: string) => void process.stderr.write(line));
  const now = init.now ?? (() => new Date());
  const make = (base: Record<string, unknown>): Logger => {
    const log = (level: LogLevel) => (message: string, attributes?: Record<string, unknown>) => {
      if (LOG_LEVELS.indexOf(level) < threshold) return;
      write(formatLine(now(), level, message, { ...base, ...attributes }));
    };
    return {
      debug: log('debug'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
      child: (attributes) => make({ ...base, ...attributes }),
    };
  };
  return make({});
}

export function formatLine(
  time: Date,
  level: LogLevel,
  message: string,
  attributes: Record<string, unknown>,
): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const clock = `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}.${pad(time.getMilliseconds(), 3)}`;
  const attrs = Object.entries(attributes)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${safeKey(k)}=${SECRET_KEYS.test(k) ? '<redacted>' : formatValue(v)}`);
  const text = [clock, level.toUpperCase().padEnd(5), safeText(String(message)), ...attrs].join(' ');
  return `${text}\n`;
}

function safeKey(key: string): string {
  return /^[\w.:-]+$/.test(key) ? key : JSON.stringify(key);
}

function formatValue(value: unknown): string {
  if (isEnvelope(value)) return quote(value.toString());
  if (value instanceof Uint8Array || value instanceof ArrayBuffer)
    return `<redacted ${value.byteLength} bytes>`;
  if (value instanceof Error) return quote(value.message);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid-Date' : value.toISOString();
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'object':
      if (value === null) return 'null';
      try {
        // Compact JSON as is (it escapes control characters); quoted only if it holds whitespace.
        const json = JSON.stringify(value, redactReplacer) ?? String(value);
        return /\s/.test(json) ? JSON.stringify(json) : json;
      } catch {
        return '[object]';
      }
    default:
      return quote(String(value));
  }
}

function redactReplacer(key: string, value: unknown): unknown {
  if (key !== '' && SECRET_KEYS.test(key)) return '<redacted>';
  if (value instanceof Uint8Array || value instanceof ArrayBuffer)
    return `<redacted ${value.byteLength} bytes>`;
  if (typeof value === 'bigint') return String(value);
  return value;
}

/** Bare when unambiguous, else a JSON string (which also escapes control characters). */
function quote(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters force quoting
  return text !== '' && !/[\s"=\\\u0000-\u001f\u007f-\u009f]/.test(text) ? text : JSON.stringify(text);
}
