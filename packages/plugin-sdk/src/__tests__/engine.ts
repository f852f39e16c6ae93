// Test helpers (never exported): the shared fake engine (src/testing/engine.ts), a recording logger.
export {
  attachEngine,
  type EngineConnection,
  type EngineOptions,
  type HijackEngine,
  type SeenRegistration,
  startHijackEngine,
} from '../testing/engine.js';

/** A Logger that records every call (of every child) as JSON lines. */
export interface RecordingLogger {
  readonly lines: string[];
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
  child(attributes: Record<string, unknown>): RecordingLogger;
}

export function recordingLogger(lines: string[] = [], base: Record<string, unknown> = {}): RecordingLogger {
  const record = (level: string) => (message: string, attributes?: Record<string, unknown>) => {
    lines.push(JSON.stringify({ level, message, ...base, ...attributes }, jsonSafe));
  };
  return {
    lines,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
    child: (attributes) => recordingLogger(lines, { ...base, ...attributes }),
  };
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
