// No secret in a core dump (issue 12 item 8: a dump of a crashed engine held 23 copies of a
// secret). As ssh-agent does: RLIMIT_CORE 0, and on Linux prctl(PR_SET_DUMPABLE, 0), which also
// keeps same-uid processes from ptrace-attaching or reading /proc/<pid>/mem. Best effort: what
// cannot be done is reported, for the caller to log; nothing here throws.
import { libc, PR_GET_DUMPABLE, PR_SET_DUMPABLE, RLIMIT_CORE } from './native.js';

export interface CoreDumpOptions {
  /**
   * Also lower the hard limit to 0, so neither this process nor its children (launched plugins)
   * can raise it again. Default false: only the soft limit, which is what the kernel applies.
   */
  hardLimit?: boolean;
  /** Leave the process dumpable (Linux). Default false: non-dumpable. */
  keepDumpable?: boolean;
}

export interface CoreDumpProtection {
  /** The soft core limit is 0 now (and the hard one, with `hardLimit`). */
  coreLimitZero: boolean;
  /** The process is non-dumpable (Linux); undefined where there is no such flag or it was kept. */
  nonDumpable: boolean | undefined;
  /** What could not be done, one sentence each (no FFI, a call that failed with its errno). */
  problems: string[];
}

/**
 * Sets RLIMIT_CORE to 0 and, on Linux, makes the process non-dumpable. Idempotent. A child started
 * afterwards inherits the core limit (hard limit 0 only with `hardLimit`); execve makes it
 * dumpable again.
 */
export function disableCoreDumps(options: CoreDumpOptions = {}): CoreDumpProtection {
  const c = libc();
  if (c instanceof Error) {
    return {
      coreLimitZero: false,
      nonDumpable: undefined,
      problems: [`core dumps stay enabled: ${c.message}`],
    };
  }
  const problems: string[] = [];
  let coreLimitZero = false;
  const current: { cur?: number | bigint; max?: number | bigint } = {};
  if (c.getrlimit(RLIMIT_CORE, current) !== 0) {
    problems.push(`getrlimit(RLIMIT_CORE) failed with errno ${c.errno()}`);
  } else {
    const max = options.hardLimit === true ? 0 : (current.max ?? 0);
    if (c.setrlimit(RLIMIT_CORE, { cur: 0, max }) === 0) coreLimitZero = true;
    else problems.push(`setrlimit(RLIMIT_CORE, 0) failed with errno ${c.errno()}`);
  }
  let nonDumpable: boolean | undefined;
  if (c.prctl !== undefined && options.keepDumpable !== true) {
    if (c.prctl(PR_SET_DUMPABLE, 0) !== 0)
      problems.push(`prctl(PR_SET_DUMPABLE, 0) failed with errno ${c.errno()}`);
    nonDumpable = c.prctl(PR_GET_DUMPABLE, 0) === 0;
  }
  return { coreLimitZero, nonDumpable, problems };
}
