// The slow-provider notice of `get`, `read` and `inject`: on a terminal, a request still waiting
// after a second says which plugins it waits for, on stderr, and the line is erased once the answer
// is in (before anything else is printed).
//
// GetSecrets is one unary call and the engine says nothing while it runs: which of the plugins it
// asked have answered is not known to any client (ours or Docker's). So the notice names the
// plugins the engine sent the request to, found the way the engine finds them (protocol.md §6.4):
// listPlugins, then every enabled, running secrets provider whose pattern overlaps the request
// (`filter`, the engine's own function). An engine that refuses the listing (an access rule with a
// pattern opens GetSecrets only) gets a notice without names.
import type { PluginStatus, SecretsClient } from '@secrets-engine/client';
import { filter } from '@secrets-engine/secrets';
import type { Io } from './io.js';
import { PROGRAM } from './meta.js';
import { safeText } from './text.js';

/** How long a request runs before the notice appears. */
export const NOTICE_DELAY_MS = 1_000;
/** The deadline of the listPlugins call behind the notice. */
const LIST_TIMEOUT_MS = 2_000;
/** Erases the terminal line the cursor is on: carriage return, then ECMA-48 EL (erase in line). */
const ERASE_LINE = '\r\x1b[K';

/** The plugins a request for any of `patterns` is sent to, in the engine's order (by name). */
export function pluginsAsked(plugins: readonly PluginStatus[], patterns: readonly string[]): string[] {
  return plugins
    .filter(
      (p) =>
        p.kind === 'secrets-provider' &&
        !p.disabled &&
        (p.runStatus === 'running' || p.runStatus === 'unspecified') &&
        p.pattern !== undefined &&
        patterns.some((pattern) => filter(p.pattern!, pattern) !== undefined),
    )
    .map((p) => p.name)
    .sort();
}

/** The notice's text (one line, no newline), fitted to `columns`. */
export function noticeText(what: string, plugins: readonly string[] | undefined, columns: number): string {
  let text: string;
  if (plugins === undefined || plugins.length === 0) {
    text = `${PROGRAM}: waiting for the engine to answer ${what}…`;
  } else {
    const names = plugins.map((name) => JSON.stringify(name)).join(', ');
    text = `${PROGRAM}: waiting for ${what} from ${plugins.length === 1 ? 'plugin' : 'plugins'} ${names}…`;
  }
  text = safeText(text);
  // One line at most: a wrapped line would leave its first part behind when erased.
  const width = Math.max(columns - 1, 10);
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/**
 * Awaits `work`. If stderr is a terminal and `work` is still pending after `delayMs`, prints the
 * notice for a request for `patterns` (described as `what`), and erases it once `work` settles.
 */
export async function withWaitNotice<T>(
  io: Io,
  client: SecretsClient,
  patterns: readonly string[],
  what: string,
  work: Promise<T>,
  delayMs = NOTICE_DELAY_MS,
): Promise<T> {
  const terminal = io.terminal('stderr');
  if (terminal === undefined) return work;
  let settled = false;
  let shown = false;
  const abort = new AbortController();
  const timer = setTimeout(() => {
    client
      .listPlugins({ signal: abort.signal, timeoutMs: LIST_TIMEOUT_MS })
      .then(
        (plugins) => pluginsAsked(plugins, patterns),
        () => undefined,
      )
      .then((plugins) => {
        if (settled) return;
        shown = true;
        io.err(noticeText(what, plugins, terminal.columns));
      });
  }, delayMs);
  try {
    return await work;
  } finally {
    settled = true;
    clearTimeout(timer);
    abort.abort();
    if (shown) io.err(ERASE_LINE);
  }
}
