import { describe, expect, it } from 'vitest';
import { nowNanos, timestampNowNanos } from './clock.js';

describe('timestampNowNanos (issue 13 item 5)', () => {
  it('stays within a few ms of the wall clock', () => {
    for (let i = 0; i < 100; i++) {
      const before = Date.now();
      const ts = timestampNowNanos();
      const after = Date.now();
      const ms = Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6);
      expect(ms).toBeGreaterThanOrEqual(before - 2);
      expect(ms).toBeLessThanOrEqual(after + 2);
      expect(ts.nanos).toBeGreaterThanOrEqual(0);
      expect(ts.nanos).toBeLessThan(1e9);
    }
  });

  it('carries sub-millisecond digits, as Go time.Now() does', () => {
    // 200 stamps all on whole milliseconds would mean millisecond precision.
    const subMs = Array.from({ length: 200 }, () => timestampNowNanos().nanos % 1_000_000);
    expect(subMs.some((n) => n !== 0)).toBe(true);
  });

  it('never goes backwards between two calls', () => {
    let last = nowNanos();
    for (let i = 0; i < 10_000; i++) {
      const now = nowNanos();
      expect(now >= last).toBe(true);
      last = now;
    }
  });
});
