// Who may call the engine socket (issue 11, protocol.md §10): every call is checked against the
// caller the kernel reported for its connection (peer.ts), by the engine's access policy and then
// by every registered access-control module. Fail closed: a policy that throws or misses its
// deadline, a caller the kernel could not name, a module that fails or is gone — each is a denial,
// and the message says which.
import { Code, ConnectError } from '@connectrpc/connect';
import type { PeerIdentity } from './peer.js';

/** The caller of one engine-socket call, as the kernel reported it for the connection. */
export type Caller = PeerIdentity;

/** What the caller asks for. */
export type AccessRequest =
  | { readonly method: 'GetSecrets'; readonly pattern: string }
  | { readonly method: 'Authorize'; readonly patterns: readonly string[] }
  | {
      readonly method: 'ListPlugins' | 'EnablePlugin' | 'DisablePlugin' | 'GetVersion';
      readonly plugin?: string;
    };

/** A decision; `reason` is told to the caller (and the audit log) on a denial. */
export interface AccessDecision {
  readonly allow: boolean;
  readonly reason?: string;
}

/**
 * The engine's access policy. Resolves to allow or deny; a throw or a late answer is a denial.
 * The default, `sameUserPolicy()`, allows only the engine's own uid.
 */
export type AccessPolicy = (
  caller: Caller,
  request: AccessRequest,
  options: { signal: AbortSignal },
) => boolean | AccessDecision | Promise<boolean | AccessDecision>;

/** Only callers running as `uid` (default: the engine's own) may call. */
export function sameUserPolicy(uid: number = processUid()): AccessPolicy {
  return (caller) =>
    caller.uid === uid
      ? { allow: true }
      : { allow: false, reason: `uid ${caller.uid} is not the engine's uid ${uid}` };
}

export function processUid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : -1;
}

/** A module asked after the policy allowed (access-control-module plugins). */
export interface AccessCheck {
  readonly name: string;
  check(caller: Caller, request: AccessRequest, signal: AbortSignal): Promise<boolean>;
}

export interface AccessControl {
  /** Resolves with the decision; never rejects. */
  decide(caller: Caller | Error, request: AccessRequest, signal: AbortSignal): Promise<AccessDecision>;
}

export interface AccessControlInit {
  policy: AccessPolicy;
  /** Deadline of the policy and of each module. */
  timeoutMs: number;
  /** The access-control modules registered now, asked in order after the policy allowed. */
  modules: () => readonly AccessCheck[];
}

export function createAccessControl(init: AccessControlInit): AccessControl {
  return {
    async decide(caller, request, signal) {
      if (caller instanceof Error)
        return { allow: false, reason: `the caller is unknown: ${caller.message}` };
      const policy = await bounded(
        'the access policy',
        init.timeoutMs,
        signal,
        (s) =>
          init.policy(caller, request, {
            get signal() {
              return s();
            },
          }),
        normalize,
      );
      if (!policy.allow) return policy;
      for (const module of init.modules()) {
        const verdict = await bounded(
          `access-control module "${module.name}"`,
          init.timeoutMs,
          signal,
          (s) => module.check(caller, request, s()),
          (allowed) =>
            allowed
              ? { allow: true }
              : { allow: false, reason: `access-control module "${module.name}" denied it` },
        );
        if (!verdict.allow) return verdict;
      }
      return { allow: true };
    },
  };
}

/** The ConnectError a denied call fails with. */
export function accessDenied(decision: AccessDecision): ConnectError {
  return new ConnectError(
    `access denied: ${decision.reason ?? 'the access policy denied it'}`,
    Code.PermissionDenied,
  );
}

function normalize(value: unknown): AccessDecision {
  if (value === true) return { allow: true };
  if (value === false) return { allow: false };
  if (typeof value === 'object' && value !== null && typeof (value as AccessDecision).allow === 'boolean') {
    const { allow, reason } = value as AccessDecision;
    return typeof reason === 'string' ? { allow, reason } : { allow };
  }
  throw new TypeError(`it answered ${describe(value)}, not a boolean or { allow: boolean }`);
}

/**
 * Runs `fn` with a deadline; a throw, an abort or the deadline is a denial that names `what`.
 * `fn` gets its signal on demand: a policy that answers synchronously without looking at it (the
 * default one, the configuration's rules) costs no AbortController, listener, timer or race
 * (issue 14: 3% of the engine's CPU per call). A synchronous answer cannot be late.
 */
function bounded<T>(
  what: string,
  timeoutMs: number,
  outer: AbortSignal,
  fn: (signal: () => AbortSignal) => T | Promise<T>,
  toDecision: (value: T) => AccessDecision,
): AccessDecision | Promise<AccessDecision> {
  let controller: AbortController | undefined;
  const onAbort = () => controller?.abort(outer.reason);
  const signal = () => {
    if (controller === undefined) {
      controller = new AbortController();
      if (outer.aborted) controller.abort(outer.reason);
      else outer.addEventListener('abort', onAbort, { once: true });
    }
    return controller.signal;
  };
  const failed = (err: unknown): AccessDecision => ({
    allow: false,
    reason: `${what} failed: ${err instanceof Error ? err.message : String(err)}`,
  });
  let value: T | Promise<T>;
  try {
    value = fn(signal);
  } catch (err) {
    outer.removeEventListener('abort', onAbort);
    return failed(err);
  }
  if (!isThenable(value)) {
    outer.removeEventListener('abort', onAbort);
    try {
      return toDecision(value);
    } catch (err) {
      return failed(err);
    }
  }
  const pending = value;
  signal(); // an asynchronous answer can be late: its deadline aborts the signal
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<AccessDecision>((resolve) => {
    timer = setTimeout(() => {
      controller!.abort(new Error('deadline'));
      resolve({ allow: false, reason: `${what} did not answer within ${timeoutMs} ms` });
    }, timeoutMs);
  });
  return Promise.race([late, Promise.resolve(pending).then(toDecision).catch(failed)]).finally(() => {
    clearTimeout(timer);
    outer.removeEventListener('abort', onAbort);
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function describe(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value;
}

/** One access rule of the CLI's configuration: every field given must match. */
export interface AccessRule {
  /** The caller's uid. */
  readonly uid?: number;
  /** The caller's executable, absolute, exactly as the kernel reports it. */
  readonly executable?: string;
  /**
   * The secrets the rule opens: a GetSecrets or Authorize request is allowed only when every ID
   * it could match is matched by this pattern. A rule with a pattern does not open the
   * management and version calls; a rule without one opens everything.
   */
  readonly pattern?: string;
}

/**
 * A policy from rules: a call is allowed when some rule matches it, else refused with a reason
 * naming the caller and the request. No rules: nothing is allowed.
 */
export function rulesPolicy(rules: readonly AccessRule[]): AccessPolicy {
  const copy = rules.map((r) => ({ ...r }));
  return (caller, request) => {
    for (const rule of copy) {
      if (rule.uid !== undefined && rule.uid !== caller.uid) continue;
      if (rule.executable !== undefined && rule.executable !== caller.executable) continue;
      if (rule.pattern !== undefined) {
        const asked =
          request.method === 'GetSecrets'
            ? [request.pattern]
            : request.method === 'Authorize'
              ? request.patterns
              : undefined;
        if (asked === undefined || asked.length === 0) continue;
        if (!asked.every((p) => covers(rule.pattern!, p))) continue;
      }
      return { allow: true };
    }
    const what =
      request.method === 'GetSecrets'
        ? `GetSecrets ${JSON.stringify(request.pattern)}`
        : request.method === 'Authorize'
          ? `Authorize ${JSON.stringify(request.patterns)}`
          : request.method;
    const who = `uid ${caller.uid}${caller.executable === '' ? '' : ` (${caller.executable})`}`;
    return { allow: false, reason: `no access rule allows ${who} to call ${what}` };
  };
}

/**
 * Whether every ID `request` can match is matched by `rule` (a sound inclusion, unlike Go's
 * `Includes`, which lets `foo/bar` include `foo/*`): `**` in the rule absorbs any run of the
 * request's components, `*` one literal or `*`, a literal only itself. Malformed input: false.
 */
export function covers(rule: string, request: string): boolean {
  const r = rule.split('/');
  const q = request.split('/');
  if (r.some((c) => c === '') || q.some((c) => c === '')) return false;
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (q.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let out: boolean;
    if (i === r.length) out = j === q.length;
    else if (r[i] === '**') out = go(i + 1, j) || (j < q.length && go(i, j + 1));
    else if (j === q.length) out = false;
    else if (r[i] === '*') out = q[j] !== '**' && go(i + 1, j + 1);
    else out = r[i] === q[j] && go(i + 1, j + 1);
    memo.set(key, out);
    return out;
  };
  return go(0, 0);
}
