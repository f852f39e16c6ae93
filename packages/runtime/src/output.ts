// Drains a launched plugin's output into the engine logger, tagged with the plugin name, line by
// line, bounded: long lines are cut, and floods are rate-limited with a count of what was dropped.
// Docker discards this output (protocol.md §1.2); we keep it. A launched plugin writes to its log
// file (plugin-log.ts), which feeds a line forwarder; forwardOutput reads a stream the same way.
import type { Readable } from 'node:stream';
import type { Logger } from '@secrets-engine/ipc';
import { createLevelReader } from './log-level.js';

const MAX_LINE = 4096;
const LINES_PER_SECOND = 200;

export type OutputStream = 'stdout' | 'stderr' | 'output';

export interface LineForwarder {
  /** Text as it arrives; lines are logged as their newlines arrive. */
  push(text: string): void;
  /** The end of the output: a last unterminated line is logged. */
  end(): void;
}

export function forwardOutput(stream: Readable | null, logger: Logger, name: OutputStream): void {
  if (stream === null) return;
  const lines = createLineForwarder(logger, name);
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => lines.push(chunk));
  stream.on('end', () => lines.end());
  stream.on('error', () => {});
}

export function createLineForwarder(logger: Logger, name: OutputStream): LineForwarder {
  // The current line: its first MAX_LINE characters, and how many more were dropped. A long line
  // is logged once, cut, when its newline (or the end) arrives, never as several fragments.
  let head = '';
  let extra = 0;
  let lastChar = '';
  let windowStart = Date.now();
  let inWindow = 0;
  let dropped = 0;
  const levelOf = createLevelReader();
  const emit = (line: string, cut: number) => {
    const level = levelOf(line);
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
    const text = cut > 0 ? `${line}… (${cut} more characters)` : line;
    // Plugins log to stderr as a matter of course, so the stream says nothing of the level: a line
    // keeps the level it names (log-level.ts), else it is info; tagged with the stream.
    logger[level](text, { stream: name });
  };
  const append = (text: string) => {
    if (text === '') return;
    lastChar = text[text.length - 1]!;
    const room = MAX_LINE - head.length;
    if (extra === 0 && text.length <= room) {
      head += text;
    } else {
      head += text.slice(0, Math.max(0, room));
      extra += text.length - Math.max(0, room);
    }
  };
  const endLine = () => {
    // CRLF: the CR is not part of the line.
    if (lastChar === '\r') {
      if (extra > 0) extra--;
      else head = head.slice(0, -1);
    }
    emit(head, extra);
    head = '';
    extra = 0;
    lastChar = '';
  };
  return {
    push(chunk: string) {
      let start = 0;
      for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
        append(chunk.slice(start, nl));
        endLine();
        start = nl + 1;
      }
      append(chunk.slice(start));
    },
    end() {
      if (head !== '' || extra > 0) endLine();
      if (dropped > 0) logger.warn('plugin output rate-limited', { stream: name, dropped });
      dropped = 0;
    },
  };
}
