// The opt-in answer cache (issue 15 item 6). Per provider, keyed by the pattern the provider was
// asked (already narrowed to its own pattern): a provider's answer depends on nothing else — the
// engine never tells a plugin who is asking, and access is decided before resolution, for every
// request, cached or not.
//
// Safe by construction:
// - only successful, non-empty answers are kept: never an error, never a not-found;
// - an entry lives until its TTL or the earliest `expires_at` of its envelopes, whichever is first,
//   and is checked again when served: never an envelope past its expiry;
// - it belongs to one provider instance: a plugin that restarts (a new registration, a new
//   session), is disabled, stops or is re-pinned gets an empty cache (the engine drops it on those
//   changes, engine.ts);
// - values are held only as long as the entry: a timer deletes it at its deadline and overwrites
//   the cached value bytes with zeros (callers get their own copies);
// - bounded: at most `maxEntries` entries and `maxBytes` of values per provider, oldest out first.
import { clone } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { resolverv1 } from '@secrets-engine/proto';
import { isGoZeroTime, type SecretPattern } from '@secrets-engine/secrets';
import { timestampNowNanos } from './clock.js';
import { EngineConfigError } from './errors.js';
import type { ProtoEnvelope, Provider } from './provider.js';

export interface CacheOptions {
  /** How long an answer is kept, in ms (> 0). An envelope's `expires_at` shortens it. */
  ttlMs: number;
  /** Entries (distinct patterns) kept per provider. Default 1024. */
  maxEntries?: number;
  /** Bytes of values kept per provider. Default 16 MiB. An answer larger than that is not kept. */
  maxBytes?: number;
}

export const CACHE_DEFAULTS = { maxEntries: 1024, maxBytes: 16 * 1024 * 1024 } as const;

/** The longest TTL accepted: a day. A secret cached longer than that is a secret not rotated. */
export const MAX_CACHE_TTL_MS = 24 * 60 * 60 * 1000;

/** Validated cache options (EngineConfigError naming the plugin and the field). */
export function resolveCacheOptions(plugin: string, options: CacheOptions): Required<CacheOptions> {
  const where = `createEngine: cache[${JSON.stringify(plugin)}]`;
  const whole = (name: keyof CacheOptions, value: unknown, max: number): number => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value > max) {
      throw new EngineConfigError(
        `${where}.${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(value) ?? String(value)}`,
      );
    }
    return value;
  };
  if (typeof options !== 'object' || options === null) {
    throw new EngineConfigError(`${where} must be an object such as { ttlMs: 30000 }`);
  }
  for (const key of Object.keys(options)) {
    if (key !== 'ttlMs' && key !== 'maxEntries' && key !== 'maxBytes') {
      throw new EngineConfigError(
        `${where}: unknown option ${JSON.stringify(key)} (allowed: ttlMs, maxEntries, maxBytes)`,
      );
    }
  }
  return {
    ttlMs: whole('ttlMs', options.ttlMs, MAX_CACHE_TTL_MS),
    maxEntries: whole('maxEntries', options.maxEntries ?? CACHE_DEFAULTS.maxEntries, 1_000_000),
    maxBytes: whole('maxBytes', options.maxBytes ?? CACHE_DEFAULTS.maxBytes, 1024 * 1024 * 1024),
  };
}

/** Answers that came from a cache, not from the provider (for the audit record). */
const CACHED = new WeakSet<ProtoEnvelope[]>();

/** True when `answer` was served from a cache. */
export function isCachedAnswer(answer: ProtoEnvelope[]): boolean {
  return CACHED.has(answer);
}

interface Entry {
  envelopes: ProtoEnvelope[];
  bytes: number;
  deadline: number;
  timer: NodeJS.Timeout;
}

/** A provider with a cache in front of it. `clear()` drops every entry (and zeroes its values). */
export interface CachingProvider extends Provider {
  readonly inner: Provider;
  clear(): void;
  /** Entries held now (tests, metrics). */
  readonly size: number;
}

export function cachingProvider(inner: Provider, options: Required<CacheOptions>): CachingProvider {
  const entries = new Map<string, Entry>();
  let bytes = 0;
  const drop = (key: string, entry: Entry) => {
    if (entries.get(key) !== entry) return;
    entries.delete(key);
    clearTimeout(entry.timer);
    bytes -= entry.bytes;
    for (const env of entry.envelopes) env.value.fill(0);
  };
  return {
    name: inner.name,
    version: inner.version,
    pattern: inner.pattern,
    // Every answer, hit or miss, is a copy no one else holds.
    freshEnvelopes: true,
    inner,
    get size() {
      return entries.size;
    },
    clear() {
      for (const [key, entry] of [...entries]) drop(key, entry);
    },
    async getSecrets(pattern: SecretPattern, callOptions) {
      const key = pattern as string;
      const now = Date.now();
      if (callOptions.noCache !== true) {
        const hit = entries.get(key);
        if (hit !== undefined) {
          if (now < hit.deadline && !expired(hit.envelopes, now)) {
            const answer = hit.envelopes.map(copy);
            CACHED.add(answer);
            return answer;
          }
          drop(key, hit);
        }
      }
      const answer = await inner.getSecrets(pattern, callOptions);
      if (answer.length === 0) return answer; // not found: never kept
      const deadline = Math.min(now + options.ttlMs, earliestExpiry(answer));
      const size = answer.reduce((n, env) => n + env.value.length, 0);
      const stillNow = Date.now();
      if (deadline <= stillNow || size > options.maxBytes) return answer;
      // The cache's own copies, stamped with when they were resolved: a hit says when its value
      // was fetched, not when it was served.
      const resolvedAt = timestampNowNanos();
      const kept = answer.map((env) => {
        const c = copy(env);
        if (c.resolvedAt === undefined || isGoZeroTime(c.resolvedAt))
          c.resolvedAt = clone(TimestampSchema, resolvedAt);
        return c;
      });
      const old = entries.get(key);
      if (old !== undefined) drop(key, old);
      while (entries.size >= options.maxEntries || bytes + size > options.maxBytes) {
        const [oldestKey, oldest] = entries.entries().next().value as [string, Entry];
        drop(oldestKey, oldest);
      }
      const entry: Entry = {
        envelopes: kept,
        bytes: size,
        deadline,
        timer: setTimeout(() => drop(key, entry), deadline - stillNow),
      };
      entry.timer.unref();
      entries.set(key, entry);
      bytes += size;
      return inner.freshEnvelopes === true ? answer : answer.map(copy);
    },
  };
}

function copy(env: ProtoEnvelope): ProtoEnvelope {
  return clone(resolverv1.GetSecretsResponse_EnvelopeSchema, env);
}

/** The earliest `expires_at` of the envelopes, in ms since the epoch (Infinity when none is set). */
function earliestExpiry(envelopes: readonly ProtoEnvelope[]): number {
  let earliest = Number.POSITIVE_INFINITY;
  for (const env of envelopes) {
    const t = env.expiresAt;
    if (t === undefined || isGoZeroTime(t)) continue;
    const ms = Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6);
    if (ms < earliest) earliest = ms;
  }
  return earliest;
}

function expired(envelopes: readonly ProtoEnvelope[], now: number): boolean {
  return earliestExpiry(envelopes) <= now;
}
