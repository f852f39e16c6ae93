// Plugin stdout/stderr forwarding (protocol.md §0 "Plugin output"): line by line to the logger,
// tagged with the stream (the plugin name comes from the child logger), long lines cut, floods
// rate-limited with a count of what was dropped.
import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { captureLogger, sleep } from './__tests__/helpers.js';
import { forwardOutput } from './output.js';

/** Lets the PassThrough deliver what was written. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

async function ended(stream: PassThrough): Promise<void> {
  const done = new Promise<void>((resolve) => stream.once('end', () => resolve()));
  stream.end();
  await done;
  await flush();
}

describe('forwardOutput', () => {
  it("keeps the level a line names (issue 15 item 5): a plugin's error line is an error", async () => {
    const logger = captureLogger();
    const err = new PassThrough();
    forwardOutput(err, logger, 'stderr');
    err.write('error: backend down\n    at trace line\n2026/12/04 04:04:28 [main.go:9] [WARN] slow\n');
    err.write('debug: dialing\nplain line\n');
    await ended(err);
    expect(logger.entries.map((e) => [e.level, e.message])).toEqual([
      ['error', 'error: backend down'],
      ['error', '    at trace line'],
      ['warn', '2026/12/04 04:04:28 [main.go:9] [WARN] slow'],
      ['debug', 'debug: dialing'],
      ['info', 'plain line'],
    ]);
  });

  it('logs a line that names no level at info, tagged with the plugin (child logger) and the stream', async () => {
    const logger = captureLogger();
    const out = new PassThrough();
    const err = new PassThrough();
    const plugin = logger.child({ plugin: 'alpha' });
    forwardOutput(out, plugin, 'stdout');
    forwardOutput(err, plugin, 'stderr');
    out.write('hello\nwor');
    err.write('oops\r\n');
    out.write('ld\r\n\nlast without newline');
    await ended(out);
    await ended(err);
    expect(logger.entries).toEqual(
      expect.arrayContaining([
        { level: 'info', message: 'hello', attributes: { plugin: 'alpha', stream: 'stdout' } },
        { level: 'info', message: 'world', attributes: { plugin: 'alpha', stream: 'stdout' } },
        { level: 'info', message: '', attributes: { plugin: 'alpha', stream: 'stdout' } },
        { level: 'info', message: 'last without newline', attributes: { plugin: 'alpha', stream: 'stdout' } },
        { level: 'info', message: 'oops', attributes: { plugin: 'alpha', stream: 'stderr' } },
      ]),
    );
    expect(logger.entries.filter((e) => e.attributes.stream === 'stdout').map((e) => e.message)).toEqual([
      'hello',
      'world',
      '',
      'last without newline',
    ]);
  });

  it('keeps multi-byte characters split across chunks intact', async () => {
    const logger = captureLogger();
    const out = new PassThrough();
    forwardOutput(out, logger, 'stdout');
    const bytes = Buffer.from('héllo €\n');
    out.write(bytes.subarray(0, 2));
    out.write(bytes.subarray(2, 7));
    out.write(bytes.subarray(7));
    await ended(out);
    expect(logger.entries.map((e) => e.message)).toEqual(['héllo €']);
  });

  it('cuts a long line once, whether it arrives in one chunk or many', async () => {
    for (const chunkSize of [20_000, 1_000, 333]) {
      const logger = captureLogger();
      const out = new PassThrough();
      forwardOutput(out, logger, 'stderr');
      const long = 'x'.repeat(10_000);
      for (let i = 0; i < long.length; i += chunkSize) {
        out.write(long.slice(i, i + chunkSize));
        await flush();
      }
      out.write('\r\nnext line\n');
      await ended(out);
      const messages = logger.entries.map((e) => e.message);
      expect(messages).toHaveLength(2);
      expect(messages[0]!.startsWith('x'.repeat(4096))).toBe(true);
      expect(messages[0]!.slice(4096)).toBe('… (5904 more characters)');
      expect(messages[1]).toBe('next line');
    }
  });

  it('cuts an unterminated long line at the end of the stream', async () => {
    const logger = captureLogger();
    const out = new PassThrough();
    forwardOutput(out, logger, 'stdout');
    out.write('y'.repeat(5_000));
    await ended(out);
    expect(logger.entries.map((e) => e.message)).toEqual([`${'y'.repeat(4096)}… (904 more characters)`]);
  });

  it('rate-limits a flood and reports how many lines were dropped', async () => {
    const logger = captureLogger();
    const out = new PassThrough();
    forwardOutput(out, logger.child({ plugin: 'noisy' }), 'stdout');
    out.write(Array.from({ length: 1_000 }, (_, i) => `line ${i}\n`).join(''));
    await ended(out);
    const info = logger.entries.filter((e) => e.level === 'info');
    expect(info).toHaveLength(200);
    expect(info[0]?.message).toBe('line 0');
    expect(info[199]?.message).toBe('line 199');
    const warn = logger.entries.filter((e) => e.level === 'warn');
    expect(warn).toEqual([
      {
        level: 'warn',
        message: 'plugin output rate-limited',
        attributes: { plugin: 'noisy', stream: 'stdout', dropped: 800 },
      },
    ]);
  });

  it('lets lines through again in the next second, after reporting the drop', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
      const logger = captureLogger();
      const out = new PassThrough();
      forwardOutput(out, logger, 'stderr');
      out.write(Array.from({ length: 250 }, (_, i) => `a${i}\n`).join(''));
      await flush();
      expect(logger.entries).toHaveLength(200);
      vi.setSystemTime(new Date('2030-01-01T00:00:01.001Z'));
      out.write('later\n');
      await flush();
      expect(logger.entries.slice(200)).toEqual([
        {
          level: 'warn',
          message: 'plugin output rate-limited',
          attributes: { stream: 'stderr', dropped: 50 },
        },
        { level: 'info', message: 'later', attributes: { stream: 'stderr' } },
      ]);
      await ended(out);
      expect(logger.entries).toHaveLength(202);
    } finally {
      vi.useRealTimers();
    }
  });

  it('ignores a missing stream and survives a stream error', async () => {
    const logger = captureLogger();
    expect(() => forwardOutput(null, logger, 'stdout')).not.toThrow();
    const out = new PassThrough();
    forwardOutput(out, logger, 'stdout');
    out.write('before\n');
    await flush();
    out.destroy(new Error('EPIPE-ish'));
    await sleep(10);
    expect(logger.entries.map((e) => e.message)).toEqual(['before']);
  });
});
