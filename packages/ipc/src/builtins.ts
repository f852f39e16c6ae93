// Node built-ins that only some paths need, loaded on first use (issue 14: a plugin's RSS). Each
// of node:http, node:child_process and node:crypto costs a plugin 0.6–1 MiB when imported at
// start, and a plugin that never launches a process, never falls back to node:http and never
// answers JSON does not need them. `createRequire` loads a built-in synchronously, from ESM too.
import { createRequire } from 'node:module';

const nodeRequire = createRequire(import.meta.url);

let http: typeof import('node:http') | undefined;
let childProcess: typeof import('node:child_process') | undefined;
let crypto: typeof import('node:crypto') | undefined;
let zlib: typeof import('node:zlib') | undefined;

export const nodeHttp = (): typeof import('node:http') => {
  http ??= nodeRequire('node:http') as typeof import('node:http');
  return http;
};

export const nodeChildProcess = (): typeof import('node:child_process') => {
  childProcess ??= nodeRequire('node:child_process') as typeof import('node:child_process');
  return childProcess;
};

export const nodeCrypto = (): typeof import('node:crypto') => {
  crypto ??= nodeRequire('node:crypto') as typeof import('node:crypto');
  return crypto;
};

/** node:zlib: only a gzip response needs it (the lean client's inflate). */
export const nodeZlib = (): typeof import('node:zlib') => {
  zlib ??= nodeRequire('node:zlib') as typeof import('node:zlib');
  return zlib;
};
