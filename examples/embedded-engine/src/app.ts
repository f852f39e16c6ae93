// An application that embeds the engine: it starts `createEngine` on a private socket with a
// builtin provider (and, optionally, the plugins of a folder), reads its own secrets through
// `@secrets-engine/client` like any other client would, reports what it resolved (IDs and
// providers, never values), and shuts everything down.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, NotFoundError } from '@secrets-engine/client';
import { type BuiltinPlugin, createEngine, type Logger, type PluginInfo } from '@secrets-engine/runtime';
import { match } from '@secrets-engine/secrets';

export interface AppOptions {
  /** The engine socket. Default: `engine.sock` in a fresh temporary folder, removed at the end. */
  socketPath?: string | undefined;
  /** A folder of plugin executables for the engine to launch. Default: none. */
  pluginsDir?: string | undefined;
  /** Extra environment for launched plugins (e.g. `SECRETS_FILE` for the file provider). */
  pluginEnv?: Record<string, string> | undefined;
  /** What to read. Default `app/**`. */
  patterns?: string[] | undefined;
  /** Where `APP_SECRET_<NAME>` variables come from. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Where the report goes, line by line. Default `console.log`. */
  print?: ((line: string) => void) | undefined;
  logger?: Logger | undefined;
  /** Aborting stops the app early; it still shuts down cleanly. */
  signal?: AbortSignal | undefined;
}

export interface AppReport {
  socketPath: string;
  plugins: PluginInfo[];
  resolved: { pattern: string; id: string; provider: string }[];
  /** Patterns nothing matched. */
  missing: string[];
}

/**
 * The builtin provider of the app, `app-local`: `app/session-key`, generated at start, and
 * `app/env/<name>` for every `APP_SECRET_<NAME>` variable (`APP_SECRET_DB_PASSWORD` → `app/env/db-password`).
 */
export function createAppProvider(env: Readonly<Record<string, string | undefined>>): BuiltinPlugin {
  const secrets = new Map<string, { value: string; source: string }>();
  secrets.set('app/session-key', { value: randomBytes(32).toString('hex'), source: 'generated' });
  for (const [key, value] of Object.entries(env)) {
    const name = /^APP_SECRET_([A-Za-z0-9_]+)$/.exec(key)?.[1];
    if (name === undefined || value === undefined) continue;
    secrets.set(`app/env/${name.toLowerCase().replaceAll('_', '-')}`, { value, source: `env:${key}` });
  }
  return {
    name: 'app-local',
    version: 'v0.1.0',
    pattern: 'app/**',
    getSecrets: (pattern) =>
      [...secrets]
        .filter(([id]) => match(pattern, id))
        .map(([id, { value, source }]) => ({ id, value, metadata: { source } })),
  };
}

export async function runApp(options: AppOptions = {}): Promise<AppReport> {
  const print = options.print ?? ((line: string) => console.log(line));
  const ownDir =
    options.socketPath === undefined ? mkdtempSync(join(tmpdir(), 'embedded-engine-')) : undefined;
  const socketPath = options.socketPath ?? join(ownDir!, 'engine.sock');
  const engine = createEngine({
    socketPath,
    plugins: [createAppProvider(options.env ?? process.env)],
    ...(options.pluginsDir === undefined ? {} : { pluginsDir: options.pluginsDir }),
    ...(options.pluginEnv === undefined ? {} : { pluginEnv: options.pluginEnv }),
    // The socket is the app's own: no plugin may join by hand.
    externalPlugins: false,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const client = createClient({ socketPath, timeoutMs: 10_000 });
  const report: AppReport = { socketPath, plugins: [], resolved: [], missing: [] };
  try {
    // engine.start() waits for every launched plugin to register (up to its timeout) and looks at
    // its signal only on entry, so an interruption meanwhile is raced here; close() below then
    // stops the plugins that are still starting.
    const starting = engine.start();
    starting.catch(() => {});
    await abortable(starting, options.signal);
    report.plugins = engine.listPlugins();
    print(`engine listening on ${socketPath}`);
    for (const p of report.plugins)
      print(`plugin ${p.name} (${p.kind}, ${p.status}) serves ${p.pattern ?? '-'}`);
    for (const pattern of options.patterns ?? ['app/**']) {
      try {
        const secrets = await client.getSecrets(
          pattern,
          options.signal === undefined ? {} : { signal: options.signal },
        );
        for (const secret of secrets) {
          // The app would use secret.revealText() here; the report shows where it came from only.
          report.resolved.push({ pattern, id: secret.id, provider: secret.provider });
          print(`resolved ${secret.id} from ${secret.provider}`);
        }
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        report.missing.push(pattern);
        print(`nothing matches ${pattern}`);
      }
    }
  } finally {
    client.close();
    await engine.close();
    if (ownDir !== undefined) rmSync(ownDir, { recursive: true, force: true });
    print('engine stopped');
  }
  return report;
}

/** `promise`, or a rejection with the signal's reason as soon as it is aborted. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
