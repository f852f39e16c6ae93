// The in-memory view of the secrets, kept current without a restart: file-system events (and a
// poll, for the events a watcher misses) trigger a re-read; a version is read only once it has
// been quiet for `settleMs` (two stamps that far apart agree, and again after the read), and the
// new view replaces the old one in a single assignment once it is complete. A version whose
// content is broken keeps the last good view; a source that is gone, unreadable or open to other
// users serves nothing until it is fixed.
import { type FSWatcher, watch } from 'node:fs';
import { type EnvelopeInit, type Logger, type SecretPattern, silentLogger } from '@secrets-engine/plugin-sdk';
import type { FileProviderError } from './errors.js';
import type { RefusedEntry, SecretsFormat } from './parse.js';
import { type ReadOutcome, readSource, type SourceLimits, type SourceOptions, stampOf } from './source.js';

/** One complete version of the secrets. */
export interface SecretsView {
  readonly format: SecretsFormat;
  readonly entries: readonly EnvelopeInit[];
  readonly refused: readonly RefusedEntry[];
  readonly loadedAt: Date;
}

export interface StoreState {
  /** The version served; undefined when nothing may be served. */
  readonly view: SecretsView | undefined;
  /** Why nothing is served (missing, unreadable, insecure, or broken before any good version). */
  readonly refusal: FileProviderError | undefined;
}

export interface SecretsStoreOptions {
  path: string;
  format: SecretsFormat | 'auto';
  pattern: SecretPattern;
  limits: SourceLimits;
  trimNewline: boolean;
  /** How long a change must be quiet before it is read. */
  settleMs: number;
  /** How often the stamps are compared when no event came; 0: never (events only). */
  pollMs: number;
  logger?: Logger;
}

/** Events arriving within this many ms are one change. */
const COALESCE_MS = 10;

export class SecretsStore {
  readonly #source: SourceOptions;
  readonly #settleMs: number;
  readonly #pollMs: number;
  readonly #logger: Logger;
  #state: StoreState = { view: undefined, refusal: undefined };
  /** The stamp of the version last read (whatever the outcome): nothing to do while it holds. */
  #seen: string | undefined;
  #started = false;
  readonly #loaded: Promise<void>;
  #markLoaded: () => void = () => {};
  #closed = false;
  #running: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  readonly #watchers = new Map<string, FSWatcher>();
  /** Problems already logged, by version: each is logged once per version of the source. */
  #reported = '';

  constructor(options: SecretsStoreOptions) {
    this.#source = {
      path: options.path,
      format: options.format,
      pattern: options.pattern,
      limits: options.limits,
      trimNewline: options.trimNewline,
    };
    this.#settleMs = options.settleMs;
    this.#pollMs = options.pollMs;
    this.#logger = options.logger ?? silentLogger;
    this.#loaded = new Promise((resolve) => {
      this.#markLoaded = resolve;
    });
  }

  get state(): StoreState {
    return this.#state;
  }

  /**
   * Reads the first version and starts watching and polling. Idempotent. Resolves once a first
   * outcome is known (a view or a refusal): the same promise as `loaded()`.
   */
  start(): Promise<void> {
    if (!this.#started && !this.#closed) {
      this.#started = true;
      void this.#run(true);
      if (this.#pollMs > 0) {
        this.#poll = setInterval(() => this.#kick(), this.#pollMs);
        this.#poll.unref();
      }
    }
    return this.#loaded;
  }

  /** Resolves once the first version was read (or refused); `state` means something from then on. */
  loaded(): Promise<void> {
    return this.#loaded;
  }

  /** Stops watching and polling. The last state stays readable. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#poll);
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }

  /** Runs a reload now, or once more after the one in progress. */
  #kick(): void {
    if (this.#closed) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    void this.#run(false);
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#kick(), ms);
    this.#timer.unref();
  }

  #run(first: boolean): Promise<void> {
    const run = (async () => {
      try {
        do {
          this.#again = false;
          await this.#reload(first);
          first = false;
        } while (this.#again && !this.#closed);
      } catch (err) {
        // A bug, not a problem of the source: say so, keep what is served.
        this.#logger.error('secrets reload failed', {
          path: this.#source.path,
          error: (err as Error).message,
        });
      } finally {
        this.#running = undefined;
      }
    })();
    this.#running = run;
    return run;
  }

  async #reload(first: boolean): Promise<void> {
    const before = await stampOf(this.#source);
    if (before === this.#seen) return;
    let stamp = before;
    if (!first) {
      // Quiet for settleMs: a writer in the middle of a change is not read.
      await sleep(this.#settleMs);
      if (this.#closed) return;
      stamp = await stampOf(this.#source);
      if (stamp !== before) return this.#schedule(this.#settleMs);
    }
    const outcome = await readSource(this.#source);
    if (this.#closed) return;
    this.#watch(outcome.watch);
    if (outcome.kind === 'changing' || (await stampOf(this.#source)) !== stamp) {
      return this.#schedule(this.#settleMs);
    }
    this.#seen = stamp;
    this.#apply(outcome, stamp);
  }

  #apply(outcome: Exclude<ReadOutcome, { kind: 'changing' }>, stamp: string): void {
    this.#applyOutcome(outcome, stamp);
    this.#markLoaded();
  }

  #applyOutcome(outcome: Exclude<ReadOutcome, { kind: 'changing' }>, stamp: string): void {
    const path = this.#source.path;
    switch (outcome.kind) {
      case 'ok': {
        const { entries, refused, problems } = outcome.parsed;
        // One assignment: a request sees the old view or the new one, never a mix.
        this.#state = {
          view: { format: outcome.format, entries, refused, loadedAt: new Date() },
          refusal: undefined,
        };
        this.#logger.info('loaded secrets', {
          path,
          format: outcome.format,
          entries: entries.length,
          refused: refused.length,
          skipped: problems.length - refused.length,
        });
        const key = `${stamp}\n${problems.join('\n')}`;
        if (key !== this.#reported) {
          this.#reported = key;
          for (const problem of problems) this.#logger.warn(`secrets entry ${problem}`, { path });
        }
        return;
      }
      case 'broken': {
        const { view } = this.#state;
        if (view !== undefined) {
          this.#logger.error(
            `${outcome.error.message}; still serving the version loaded at ${view.loadedAt.toISOString()}`,
            { path },
          );
          return;
        }
        this.#state = { view: undefined, refusal: outcome.error };
        this.#logger.error(outcome.error.message, { path });
        return;
      }
      case 'refused':
        this.#state = { view: undefined, refusal: outcome.error };
        this.#logger.error(outcome.error.message, { path });
        return;
    }
  }

  /** Watches exactly `paths` (folders for entries coming and going, files for edits in place). */
  #watch(paths: readonly string[]): void {
    const wanted = new Set(paths);
    for (const [path, watcher] of this.#watchers) {
      if (!wanted.has(path)) {
        watcher.close();
        this.#watchers.delete(path);
      }
    }
    for (const path of wanted) {
      if (this.#watchers.has(path)) continue;
      let watcher: FSWatcher;
      try {
        watcher = watch(path, { persistent: false }, () => this.#schedule(COALESCE_MS));
      } catch {
        continue; // not there (yet): the poll and the parent folder's watcher cover it
      }
      watcher.on('error', () => {
        watcher.close();
        this.#watchers.delete(path);
        this.#schedule(COALESCE_MS);
      });
      this.#watchers.set(path, watcher);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
