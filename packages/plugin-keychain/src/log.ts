// A plain-text logger on stderr, one line per event (`warn: message key=value`). An engine forwards
// a launched plugin's stderr into its own log, tagged with the plugin name. Nothing here is ever
// given a secret value.
import type { Logger } from '@secrets-engine/plugin-sdk';

type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function createStderrLogger(
  options: { level?: Level; write?: (line: string) => void; attributes?: Record<string, unknown> } = {},
): Logger {
  const min = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const base = options.attributes ?? {};
  const log = (level: Level) => (message: string, attributes?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const fields = Object.entries({ ...base, ...attributes })
      .map(([k, v]) => `${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`)
      .join(' ');
    write(`${level}: ${message}${fields === '' ? '' : ` ${fields}`}\n`);
  };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (attributes) => createStderrLogger({ ...options, attributes: { ...base, ...attributes } }),
  };
}
