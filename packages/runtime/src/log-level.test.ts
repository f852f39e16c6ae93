import { describe, expect, it } from 'vitest';
import { atLeast, createLevelReader, lineLevel } from './log-level.js';

describe('lineLevel: the level a plugin output line names', () => {
  it.each([
    // Docker's Go plugin SDK (x/logging): log.LstdFlags, [file:line], [ERR]/[WARN]
    ['2026/12/04 04:04:28 [/src/main.go:12] [ERR] plugin: backend down', 'error'],
    ['2026/12/04 04:04:28 [/src/main.go:12] [WARN] plugin: slow', 'warn'],
    // our CLI logger and provider packages
    ['04:04:28.013 ERROR plugin registration failed plugin=x', 'error'],
    ['04:04:28.013 WARN  slow provider', 'warn'],
    ['04:04:28.013 DEBUG dialing', 'debug'],
    ['error: cannot read /etc/secrets.json: EACCES', 'error'],
    ['warn: secrets file changed', 'warn'],
    ['info: serving 3 secrets', 'info'],
    // logfmt (logrus, slog text) and JSON (slog, pino)
    ['time="2026-12-04T04:04:28Z" level=error msg="vault sealed"', 'error'],
    ['time=2026-12-04T04:04:28Z level=WARN msg=retrying', 'warn'],
    ['{"time":"2026-12-04T04:04:28Z","level":"ERROR","msg":"boom"}', 'error'],
    ['{"level":50,"time":1764821068,"msg":"boom"}', 'error'],
    ['{"level":40,"msg":"hmm"}', 'warn'],
    ['{"level":20,"msg":"detail"}', 'debug'],
    // Python logging, crashes
    ['ERROR:root:keyring locked', 'error'],
    ['WARNING: falling back', 'warn'],
    ['panic: runtime error: index out of range [3] with length 3', 'error'],
    ['fatal error: all goroutines are asleep - deadlock!', 'error'],
    ['TypeError: Cannot read properties of undefined', 'error'],
    ['Error: connect ECONNREFUSED /tmp/x.sock', 'error'],
    ['Error [ERR_MODULE_NOT_FOUND]: Cannot find package', 'error'],
  ])('%s → %s', (line, level) => {
    expect(lineLevel(line)).toBe(level);
  });

  it.each([
    'hello from the plugin',
    'serving 3 secrets; 0 errors so far',
    'ERRORS: none',
    'Total: 5 items',
    'the word error in a message is not a level',
    `${'x'.repeat(200)} level=error`,
    '',
  ])('%j names no level', (line) => {
    expect(lineLevel(line)).toBeUndefined();
  });
});

describe('createLevelReader', () => {
  it('gives a stack trace the level of the error above it, and plain lines info', () => {
    const level = createLevelReader();
    const lines = [
      'starting',
      'TypeError: boom',
      '    at main (/x/main.js:3:9)',
      '\tat other',
      'next plain line',
      'panic: bad',
      '',
      'goroutine 1 [running]:',
      'main.main()',
    ];
    expect(lines.map(level)).toEqual([
      'info',
      'error',
      'error',
      'error',
      'info',
      'error',
      'info',
      'info',
      'info',
    ]);
  });
  it('an empty line ends a trace; a goroutine header continues it', () => {
    const level = createLevelReader();
    expect(['panic: x', 'goroutine 7 [running]:', '\tmain.go:3'].map(level)).toEqual([
      'error',
      'error',
      'error',
    ]);
  });
});

it('atLeast orders error > warn > info > debug', () => {
  expect(atLeast('error', 'warn')).toBe(true);
  expect(atLeast('warn', 'warn')).toBe(true);
  expect(atLeast('info', 'warn')).toBe(false);
  expect(atLeast('debug', 'info')).toBe(false);
});
