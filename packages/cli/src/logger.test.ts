// The serve logger: line format, level filter, child attributes, and that no secret value is
// printed even when one is handed to it by mistake.
import { createEnvelope } from '@secrets-engine/secrets';
import { describe, expect, it } from 'vitest';
import { createCliLogger } from './logger.js';

function capture(level?: 'debug' | 'info' | 'warn' | 'error') {
  const lines: string[] = [];
  const time = new Date(2026, 0, 2, 3, 4, 5, 67); // local time, as printed
  const logger = createCliLogger({
    ...(level ? { level } : {}),
    write: (l) => lines.push(l),
    now: () => time,
  });
  return { logger, lines };
}

describe('createCliLogger', () => {
  it('prints HH:MM:SS.mmm LEVEL message key=value', () => {
    const { logger, lines } = capture();
    logger.info('plugin registered', { plugin: 'vault', version: 'v1.0.0', pid: 42, external: false });
    logger.warn('plugin failed', { plugin: 'x', error: new Error('boom: it broke') });
    expect(lines).toEqual([
      '03:04:05.067 INFO  plugin registered plugin=vault version=v1.0.0 pid=42 external=false\n',
      '03:04:05.067 WARN  plugin failed plugin=x error="boom: it broke"\n',
    ]);
  });

  it('filters by level (default info)', () => {
    const info = capture();
    info.logger.debug('hidden');
    info.logger.info('shown');
    expect(info.lines).toHaveLength(1);
    const warn = capture('warn');
    warn.logger.info('hidden');
    warn.logger.warn('w');
    warn.logger.error('e');
    expect(warn.lines.map((l) => l.slice(13, 18))).toEqual(['WARN ', 'ERROR']);
    const debug = capture('debug');
    debug.logger.debug('d', { scope: 'yamux' });
    expect(debug.lines).toEqual(['03:04:05.067 DEBUG d scope=yamux\n']);
  });

  it('child loggers carry their attributes', () => {
    const { logger, lines } = capture();
    logger.child({ plugin: 'vault' }).child({ stream: 'stderr' }).info('hello', { n: 1 });
    expect(lines).toEqual(['03:04:05.067 INFO  hello plugin=vault stream=stderr n=1\n']);
  });

  it('keeps every record on one line and escapes control characters', () => {
    const { logger, lines } = capture();
    logger.info('line one\nline two \u001b[31mred', { note: 'a\nb', empty: '', skipped: undefined });
    expect(lines).toEqual(['03:04:05.067 INFO  line one\\nline two \\x1b[31mred note="a\\nb" empty=""\n']);
  });

  it('never prints a secret value', () => {
    const { logger, lines } = capture();
    const envelope = createEnvelope({ id: 'db/password', value: 'hunter2', provider: 'vault' });
    logger.info('oops', {
      envelope,
      bytes: new TextEncoder().encode('hunter2'),
      value: 'hunter2',
      password: 'hunter2',
      nested: { token: 'hunter2', list: [envelope], ok: 1 },
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('hunter2');
    expect(lines[0]).toContain('<redacted 7 bytes>');
    expect(lines[0]).toContain('value=<redacted> password=<redacted>');
    expect(lines[0]).toContain('"ok":1');
  });
});
