/**
 * The logger every secrets-engine library takes. Libraries never print: they log through an
 * injected logger, silent by default. Attributes are structured; secret values are never logged.
 */
export interface Logger {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
  /** A logger whose lines all carry `attributes` (for example `{ plugin: 'foo' }`). */
  child(attributes: Record<string, unknown>): Logger;
}

const noop = () => {};

/** A logger that drops everything: the default of every factory. */
export const silentLogger: Logger = Object.freeze({
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
});

interface Libp2pLogger {
  (formatter: unknown, ...args: unknown[]): void;
  error(formatter: unknown, ...args: unknown[]): void;
  trace(formatter: unknown, ...args: unknown[]): void;
  enabled: boolean;
  newScope(name: string): Libp2pLogger;
}

/**
 * Adapts our logger to the libp2p logger yamux requires. yamux's own lines (including its
 * `error` lines for every stream reset, which are routine) go to debug; traces are dropped.
 */
export function toLibp2pLogger(logger: Logger, scope = 'yamux'): Libp2pLogger {
  const format = (args: unknown[]) =>
    args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : String(a))).join(' ');
  const log = ((...args: unknown[]) => logger.debug(format(args), { scope })) as Libp2pLogger;
  log.error = (...args: unknown[]) => logger.debug(format(args), { scope });
  log.trace = noop;
  log.enabled = false;
  log.newScope = (name: string) => toLibp2pLogger(logger, `${scope}:${name}`);
  return log;
}
