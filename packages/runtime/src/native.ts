// The libc calls Node has no API for, through koffi as in peer.ts (an FFI with prebuilt binaries;
// docs/decisions.md "Caller identity"): flock(2) for the engine socket's lock (socket.ts), and
// getrlimit(2)/setrlimit(2) and prctl(2) to keep secrets out of core dumps (core-dumps.ts),
// tcgetpgrp(3)/getpgrp(2) for `run` on a terminal (terminal.ts).
// Loaded once, on first use; everything platform-specific stays here.
import { createRequire } from 'node:module';

export interface Rlimit {
  cur: number | bigint;
  max: number | bigint;
}

export interface Libc {
  /** flock(2): 0, or -1 with `errno()`. */
  flock(fd: number, operation: number): number;
  getrlimit(resource: number, out: Partial<Rlimit>): number;
  setrlimit(resource: number, limit: Rlimit): number;
  /** tcgetpgrp(3): the foreground process group of the terminal open on `fd`, or -1. */
  tcgetpgrp(fd: number): number;
  /** getpgrp(2): this process's process group. */
  getpgrp(): number;
  /** prctl(2) with one argument (Linux only). */
  prctl: ((option: number, arg: number) => number) | undefined;
  errno(): number;
  /** errno of "would block" (EWOULDBLOCK) on this platform. */
  readonly EWOULDBLOCK: number;
}

export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const RLIMIT_CORE = 4; // Linux and macOS
export const PR_GET_DUMPABLE = 3;
export const PR_SET_DUMPABLE = 4;

let loaded: Libc | Error | undefined;

/** The libc of this platform, or why it cannot be had (no koffi, not Linux or macOS). */
export function libc(): Libc | Error {
  loaded ??= load();
  return loaded;
}

function load(): Libc | Error {
  const platform = process.platform;
  if (platform !== 'linux' && platform !== 'darwin') {
    return new Error(`no libc calls on ${platform} (only Linux and macOS)`);
  }
  try {
    // biome-ignore lint/suspicious/noExplicitAny: koffi's typings are loaded lazily with it
    const koffi: any = createRequire(import.meta.url)('koffi');
    const lib = koffi.load(platform === 'linux' ? 'libc.so.6' : 'libSystem.B.dylib');
    // rlim_t is 64 bits on every LP64 platform we run on (Linux x64/arm64, macOS).
    koffi.struct('secrets_engine_rlimit', { cur: 'uint64_t', max: 'uint64_t' });
    const flock = lib.func('int flock(int fd, int operation)');
    const getrlimit = lib.func('int getrlimit(int resource, _Out_ secrets_engine_rlimit *rlim)');
    const setrlimit = lib.func('int setrlimit(int resource, const secrets_engine_rlimit *rlim)');
    const tcgetpgrp = lib.func('int tcgetpgrp(int fd)');
    const getpgrp = lib.func('int getpgrp(void)');
    // prctl is variadic in glibc: declared so, its extra arguments typed at the call.
    const prctl = platform === 'linux' ? lib.func('int prctl(int option, ...)') : undefined;
    return {
      flock: (fd, operation) => flock(fd, operation),
      getrlimit: (resource, out) => getrlimit(resource, out),
      setrlimit: (resource, limit) => setrlimit(resource, limit),
      tcgetpgrp: (fd) => tcgetpgrp(fd),
      getpgrp: () => getpgrp(),
      prctl:
        prctl === undefined
          ? undefined
          : (option, arg) =>
              prctl(option, 'unsigned long', arg, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0),
      errno: () => koffi.errno() as number,
      EWOULDBLOCK: platform === 'linux' ? 11 : 35,
    };
  } catch (err) {
    return new Error(`cannot load libc through koffi: ${(err as Error).message}`, { cause: err });
  }
}
