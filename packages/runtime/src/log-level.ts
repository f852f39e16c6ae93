// The level of a line a plugin wrote to its output (issue 15 item 5): a plugin's error lines stay
// errors in the engine's log and in `secrets-engine logs --level`. Plugins log in whatever format
// their language's logger has; the markers recognised are the common ones, near the line's start:
//
// - JSON (slog, pino, zap, bunyan): `"level": "error"` or pino's number (`"level": 50`);
// - logfmt (logrus, slog's text handler): `level=error`;
// - bracketed, after a timestamp or a `[file:line]` (Docker's Go SDK writes `[ERR]`, `[WARN]`);
// - a word after an optional timestamp: `ERROR ...` (our CLI), `error: ...` (our provider
//   packages), `ERROR:root:...` (Python), `WARNING: ...`;
// - a crash: `panic: ...` / `fatal error: ...` (Go), `TypeError: ...` (a Node exception).
//
// A line with none of these is info. An indented line, or a Go `goroutine N [...]` header, goes on
// the line before it (a stack trace under an error is the error's).

export type PluginLogLevel = 'error' | 'warn' | 'info' | 'debug';

/** The levels, most severe first. */
export const PLUGIN_LOG_LEVELS: readonly PluginLogLevel[] = ['error', 'warn', 'info', 'debug'];

/** Only the start of a line is looked at: a level word deep in a message is not its level. */
const HEAD = 160;

const NAMES: Record<string, PluginLogLevel> = {
  emerg: 'error',
  emergency: 'error',
  alert: 'error',
  crit: 'error',
  critical: 'error',
  fatal: 'error',
  panic: 'error',
  err: 'error',
  error: 'error',
  warn: 'warn',
  warning: 'warn',
  notice: 'info',
  info: 'info',
  debug: 'debug',
  trace: 'debug',
};
const WORDS = Object.keys(NAMES).join('|');

const JSON_LEVEL = /"(?:level|lvl|severity)"\s*:\s*(?:"([A-Za-z]+)"|(\d+))/;
const LOGFMT_LEVEL = new RegExp(`(?:^|\\s)(?:level|lvl|severity)="?(${WORDS})"?(?=\\s|$)`, 'i');
const BRACKETED = new RegExp(`\\[(${WORDS})\\]`, 'i');
// A timestamp-ish prefix: digits and the separators of dates and times, then the level word in
// capitals (ERROR, WARN) or in any case when a colon follows it (error:, Warning:).
const STAMP = '^[\\d\\s/:.,+\\-TZ]*';
const CAPS_WORD = new RegExp(`${STAMP}(${WORDS.toUpperCase()})(?=[\\s:]|$)`);
const COLON_WORD = new RegExp(`${STAMP}(${WORDS}):`, 'i');
const CRASH = /^(?:panic: |fatal error: |(?:[A-Z][A-Za-z]*)?Error(?: \[[A-Z_]+\])?: )/;

/** The level a line names, or undefined when it names none. */
export function lineLevel(line: string): PluginLogLevel | undefined {
  const head = line.length > HEAD ? line.slice(0, HEAD) : line;
  const trimmed = head.trimStart();
  if (trimmed.startsWith('{')) {
    const m = JSON_LEVEL.exec(trimmed);
    if (m !== null) {
      if (m[2] !== undefined) return pinoLevel(Number(m[2]));
      const named = NAMES[m[1]!.toLowerCase()];
      if (named !== undefined) return named;
    }
  }
  const match =
    CAPS_WORD.exec(head) ?? COLON_WORD.exec(head) ?? BRACKETED.exec(head) ?? LOGFMT_LEVEL.exec(head);
  if (match !== null) return NAMES[match[1]!.toLowerCase()];
  if (CRASH.test(head)) return 'error';
  return undefined;
}

function pinoLevel(n: number): PluginLogLevel {
  if (n >= 50) return 'error';
  if (n >= 40) return 'warn';
  if (n >= 30) return 'info';
  return 'debug';
}

/** A continuation of the line before it: indented, or a Go stack trace's goroutine header. */
function isContinuation(line: string): boolean {
  return line.startsWith(' ') || line.startsWith('\t') || /^goroutine \d+ \[/.test(line);
}

/**
 * Levels for the lines of one output, in order: a continuation line has the level of the line it
 * continues; any other line its own level, else info.
 */
export function createLevelReader(): (line: string) => PluginLogLevel {
  let previous: PluginLogLevel = 'info';
  return (line) => {
    if (line !== '' && isContinuation(line)) return previous;
    previous = lineLevel(line) ?? 'info';
    return previous;
  };
}

/** True when `level` is `threshold` or more severe. */
export function atLeast(level: PluginLogLevel, threshold: PluginLogLevel): boolean {
  return PLUGIN_LOG_LEVELS.indexOf(level) <= PLUGIN_LOG_LEVELS.indexOf(threshold);
}
