// The wall clock with the best precision Node offers (issue 13 item 5: Docker's engine stamps
// `resolved_at` with Go's time.Now(), in nanoseconds; Date.now() has milliseconds).
//
// process.hrtime is monotonic with nanosecond resolution but has no epoch. The epoch is taken from
// Date.now() at the instant its millisecond ticks over (a busy wait of 1 ms, up to 5 on a loaded
// machine, once), so the stamp agrees with the wall clock to within microseconds; it is taken again
// whenever the two clocks drift apart by more than 1 ms (a wall-clock step: NTP, suspend).
import { create } from '@bufbuild/protobuf';
import { type Timestamp, TimestampSchema } from '@bufbuild/protobuf/wkt';

const NS_PER_MS = 1_000_000n;
let epochNs = 0n; // wall-clock ns at hrtime `baseHr`
let baseHr = 0n;
let anchored = false;
let last = 0n; // the last value returned
const MAX_ANCHOR_GAP_NS = 50_000n;
/** A re-anchoring that moves the clock back by up to this much is smoothed over (never backwards). */
const MAX_CLAMP_NS = 10n * NS_PER_MS;

function anchor(): void {
  // The tick is seen between two hrtime readings; a reading pair the scheduler cut into (a loaded
  // machine) would put the epoch off by the gap, so such a tick is skipped for the next one (at
  // most a few times: then the best pair seen is kept).
  let best: { ms: number; hr: bigint; gap: bigint } | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const start = Date.now();
    let before = process.hrtime.bigint();
    let ms = Date.now();
    let after = process.hrtime.bigint();
    while (ms === start) {
      before = after;
      ms = Date.now();
      after = process.hrtime.bigint();
    }
    const gap = after - before;
    if (best === undefined || gap < best.gap) best = { ms, hr: before + gap / 2n, gap };
    if (gap <= MAX_ANCHOR_GAP_NS) break;
  }
  epochNs = BigInt(best!.ms) * NS_PER_MS;
  baseHr = best!.hr;
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
  // A new anchor can sit a little behind the old one (either was taken with some error); a
  // stamp never goes back for that. A real step of the wall clock back (more than 10 ms) is followed.
  if (ns < last && last - ns <= MAX_CLAMP_NS) ns = last;
  last = ns;
  return ns;
}

/** The current time as a protobuf Timestamp with nanoseconds. */
export function timestampNowNanos(): Timestamp {
  const ns = nowNanos();
  const seconds = ns / 1_000_000_000n;
  return create(TimestampSchema, { seconds, nanos: Number(ns - seconds * 1_000_000_000n) });
}
