// Node built-ins that only some paths need, loaded on first use (issue 14: a plugin's RSS). Each
// of node:http, node:child_process and node:crypto costs a plugin 0.6–1 MiB when imported at
// start, and a plugin that never launches a process, never falls back to node:http and never
// answers JSON does not need them. `createRequire` loads a built-in synchronously, from ESM too.
import { createRequire } from 'node:module';

const nodeRequire = createRequire(import.meta.url);

/** A getter of the built-in module `name`, loaded on its first call. */
function onFirstUse<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= nodeRequire(name) as T;
    return loaded;
  };
}

export const nodeHttp = onFirstUse<typeof import('node:http')>('node:http');
export const nodeChildProcess = onFirstUse<typeof import('node:child_process')>('node:child_process');
export const nodeCrypto = onFirstUse<typeof import('node:crypto')>('node:crypto');
/** node:zlib: only a gzip response needs it (the lean client's inflate). */
export const nodeZlib = onFirstUse<typeof import('node:zlib')>('node:zlib');
