// Summaries across rounds, the target ratios, and the printed table.
import { median } from './measure.js';

/** One case's numbers in one round. `null` where a number is not available (e.g. /proc). */
export type Metrics = Record<string, number | null>;

export interface RoundRecord {
  round: number;
  /** The order the cases ran in (the start case rotates every round). */
  order: string[];
  durationMs: number;
  results: Record<string, { metrics: Metrics; detail?: Record<string, unknown> }>;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Rounds that had a value. */
  n: number;
}

export type Summary = Record<string, Record<string, Spread>>;

function spread(values: number[]): Spread | undefined {
  if (values.length === 0) return undefined;
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

/** Median and [min, max] across rounds of every metric of every case. */
export function summarize(rounds: readonly RoundRecord[]): Summary {
  const summary: Summary = {};
  const cases = new Set(rounds.flatMap((r) => Object.keys(r.results)));
  for (const name of cases) {
    const metrics = new Set(rounds.flatMap((r) => Object.keys(r.results[name]?.metrics ?? {})));
    const out: Record<string, Spread> = {};
    for (const metric of metrics) {
      const values = rounds
        .map((r) => r.results[name]?.metrics[metric])
        .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      const s = spread(values);
      if (s !== undefined) out[metric] = s;
    }
    summary[name] = out;
  }
  return summary;
}

export interface RatioTarget {
  name: string;
  numerator: { case: string; metric: string };
  denominator: { case: string; metric: string };
  /** Without a target the ratio is informational: printed, never PASS or MISS. */
  goal?: { comparison: '<=' | '>='; target: number };
}

export interface RatioResult extends RatioTarget {
  /** numerator / denominator within each round. */
  perRound: number[];
  /** Median of the same-round ratios: the number judged against the target. */
  median: number;
  min: number;
  max: number;
  /** Median numerator / median denominator, for reference. */
  ofMedians: number;
  /** null for informational ratios. */
  pass: boolean | null;
}

export function ratios(
  targets: readonly RatioTarget[],
  rounds: readonly RoundRecord[],
  summary: Summary,
): RatioResult[] {
  return targets.map((t) => {
    const perRound: number[] = [];
    for (const r of rounds) {
      const num = r.results[t.numerator.case]?.metrics[t.numerator.metric];
      const den = r.results[t.denominator.case]?.metrics[t.denominator.metric];
      if (typeof num === 'number' && typeof den === 'number' && den > 0) perRound.push(num / den);
    }
    const s = spread(perRound) ?? { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
    const numMed = summary[t.numerator.case]?.[t.numerator.metric]?.median ?? Number.NaN;
    const denMed = summary[t.denominator.case]?.[t.denominator.metric]?.median ?? Number.NaN;
    const pass =
      t.goal === undefined
        ? null
        : t.goal.comparison === '<='
          ? s.median <= t.goal.target
          : s.median >= t.goal.target;
    return { ...t, perRound, median: s.median, min: s.min, max: s.max, ofMedians: numMed / denMed, pass };
  });
}

/** A number with sensible precision: 2 decimals below 10, 1 below 100, none above. */
export function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toString();
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function cell(s: Spread | undefined): string {
  if (s === undefined) return '—';
  if (s.n === 1) return fmt(s.median);
  return `${fmt(s.median)} [${fmt(s.min)}–${fmt(s.max)}]`;
}

/** Pads the columns of `rows` (the first row is the header) and draws a rule under the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join('\n');
}

export interface CaseInfo {
  letter: string;
  name: string;
  label: string;
}

/** The results table: one row per case, median across rounds with [min–max]. */
export function resultsTable(cases: readonly CaseInfo[], summary: Summary): string {
  const rows = [['', 'case', 'p50 µs', 'p99 µs', 'calls/s @64', 'MB/s', 'CPU µs/call cli+srv @64']];
  for (const c of cases) {
    const m = summary[c.name] ?? {};
    const cpu =
      m.clientCpuUs === undefined
        ? ''
        : `${fmt(m.clientCpuUs.median)} + ${m.serverCpuUs === undefined ? '?' : fmt(m.serverCpuUs.median)}`;
    rows.push([
      c.letter,
      c.name,
      m.p50 ? cell(m.p50) : '',
      m.p99 ? cell(m.p99) : '',
      m.callsPerSec ? cell(m.callsPerSec) : '',
      m.mbPerSec ? cell(m.mbPerSec) : '',
      cpu,
    ]);
  }
  return table(rows);
}

export function ratiosTable(results: readonly RatioResult[]): string {
  const rows = [['ratio (same rounds)', 'median [min–max] of per-round ratios', 'target', 'result']];
  for (const r of results) {
    const range = r.perRound.length > 1 ? ` [${r.min.toFixed(2)}–${r.max.toFixed(2)}]` : '';
    const goal = r.goal === undefined ? 'info' : `${r.goal.comparison} ${r.goal.target}×`;
    const result = r.pass === null ? '' : r.pass ? 'PASS' : 'MISS';
    rows.push([r.name, `${r.median.toFixed(2)}×${range}`, goal, result]);
  }
  return table(rows);
}
