// Drains a launched plugin's stdout/stderr into the engine logger, tagged with the plugin name,
// line by line, bounded: long lines are cut, and floods are rate-limited with a count of what was
// dropped. Docker discards this output (protocol.md §1.2); we keep it.
import type { Readable } from 'node:stream';
import type { Logger } from '@secrets-engine/ipc';

const MAX_LINE = 4096;
const LINES_PER_SECOND = 200;

export function forwardOutput(stream: Readable | null, logger: Logger, name: 'stdout' | 'stderr'): void {
  if (stream === null) return;
  let partial = '';
  let windowStart = Date.now();
  let inWindow = 0;
  let dropped = 0;
  const emit = (line: string) => {
    const now = Date.now();
    if (now - windowStart >= 1000) {
      if (dropped > 0) logger.warn('plugin output rate-limited', { stream: name, dropped });
      windowStart = now;
      inWindow = 0;
      dropped = 0;
    }
    if (inWindow >= LINES_PER_SECOND) {
      dropped++;
      return;
    }
    inWindow++;
    const text =
      line.length > MAX_LINE
        ? `${line.slice(0, MAX_LINE)}… (${line.length - MAX_LINE} more characters)`
        : line;
    // Plugins log to stderr as a matter of course: both streams are info, tagged with the stream.
    logger.info(text, { stream: name });
  };
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    partial += chunk;
    let nl = partial.indexOf('\n');
    while (nl !== -1) {
      emit(partial.slice(0, nl).replace(/\r$/, ''));
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
    }
    if (partial.length > MAX_LINE) {
      emit(partial);
      partial = '';
    }
  });
  stream.on('end', () => {
    if (partial !== '') emit(partial);
    if (dropped > 0) logger.warn('plugin output rate-limited', { stream: name, dropped });
  });
  stream.on('error', () => {});
}
