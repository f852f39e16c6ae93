// The wall clock with the best precision Node offers (issue 13 item 5: Docker's engine stamps
// `resolved_at` with Go's time.Now(), in nanoseconds; Date.now() has milliseconds).
//
// process.hrtime is monotonic with nanosecond resolution but has no epoch. The epoch is taken from
// Date.now() at the instant its millisecond ticks over (a busy wait of at most 1 ms, once), so the
// stamp agrees with the wall clock to within microseconds; it is taken again whenever the two
// clocks drift apart by more than 1 ms (a wall-clock step: NTP, suspend).
import { create } from '@bufbuild/protobuf';
import { type Timestamp, TimestampSchema } from '@bufbuild/protobuf/wkt';

const NS_PER_MS = 1_000_000n;
let epochNs = 0n; // wall-clock ns at hrtime `baseHr`
let baseHr = 0n;
let anchored = false;

function anchor(): void {
  const start = Date.now();
  let ms = start;
  let hr = process.hrtime.bigint();
  while (ms === start) {
    hr = process.hrtime.bigint();
    ms = Date.now();
  }
  epochNs = BigInt(ms) * NS_PER_MS;
  baseHr = hr;
  anchored = true;
}

/** Nanoseconds since the Unix epoch, as a bigint. */
export function nowNanos(): bigint {
  if (!anchored) anchor();
  let ns = epochNs + (process.hrtime.bigint() - baseHr);
  const drift = ns / NS_PER_MS - BigInt(Date.now());
  if (drift > 1n || drift < -1n) {
    anchor();
    ns = epochNs + (process.hrtime.bigint() - baseHr);
  }
  return ns;
}

/** The current time as a protobuf Timestamp with nanoseconds. */
export function timestampNowNanos(): Timestamp {
  const ns = nowNanos();
  const seconds = ns / 1_000_000_000n;
  return create(TimestampSchema, { seconds, nanos: Number(ns - seconds * 1_000_000_000n) });
}
