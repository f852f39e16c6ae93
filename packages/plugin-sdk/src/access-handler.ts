// CheckAccess and Authorize (protocol.md §10.1), with the semantics of Go's
// NewAccessControlHandler: an invalid pattern → invalid_argument; no requester → invalid_argument
// "requester is required"; Authorize without patterns → invalid_argument "at least one pattern is
// required"; the author's error → internal (a ConnectError keeps its code, as with getSecrets);
// the decision always set (DENY too); expires_at as Go's timestamppb.New writes it (the Go zero
// time when there is no expiry, §4.4).
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Logger } from '@secrets-engine/ipc';
import { accesscontrolv1 } from '@secrets-engine/proto';
import { parsePattern, type SecretPattern, toGoTimestamp } from '@secrets-engine/secrets';
import type { AuthorizeHandler, CheckAccessHandler, Requester } from './access-control.js';

export async function handleCheckAccess(
  handler: CheckAccessHandler,
  req: accesscontrolv1.CheckAccessRequest,
  signal: AbortSignal,
  logger: Logger,
): Promise<accesscontrolv1.CheckAccessResponse> {
  const pattern = validPattern(req.pattern);
  const requester = requesterOf(req.requester);
  const allow = await run('checkAccess', logger, signal, async () =>
    expectBoolean(await handler(requester, pattern, { signal }), 'checkAccess'),
  );
  return create(accesscontrolv1.CheckAccessResponseSchema, { decision: decisionOf(allow) });
}

export async function handleAuthorize(
  handler: AuthorizeHandler,
  req: accesscontrolv1.AuthorizeRequest,
  signal: AbortSignal,
  logger: Logger,
): Promise<accesscontrolv1.AuthorizeResponse> {
  if (req.patterns.length === 0) {
    throw new ConnectError('at least one pattern is required', Code.InvalidArgument);
  }
  const patterns = Object.freeze(req.patterns.map(validPattern));
  const requester = requesterOf(req.requester);
  const result = await run('authorize', logger, signal, async () =>
    authorizeResult(await handler(requester, patterns, { signal })),
  );
  return create(accesscontrolv1.AuthorizeResponseSchema, {
    decision: decisionOf(result.allow),
    expiresAt: toGoTimestamp(result.expiresAt),
  });
}

/** A CheckAccess answer must be a boolean: anything else is the author's mistake, never an allow. */
export function expectBoolean(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') {
    throw new TypeError(`${what} must return true or false, got ${describe(value)}`);
  }
  return value;
}

function authorizeResult(value: unknown): { allow: boolean; expiresAt: Date | undefined } {
  if (typeof value === 'boolean') return { allow: value, expiresAt: undefined };
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as { allow?: unknown }).allow !== 'boolean'
  ) {
    throw new TypeError(`authorize must return true, false or { allow, expiresAt? }, got ${describe(value)}`);
  }
  const { allow, expiresAt } = value as { allow: boolean; expiresAt?: unknown };
  if (expiresAt !== undefined && !(expiresAt instanceof Date && !Number.isNaN(expiresAt.getTime()))) {
    throw new TypeError(`authorize: expiresAt must be a valid Date, got ${describe(expiresAt)}`);
  }
  return { allow, expiresAt };
}

function validPattern(raw: string): SecretPattern {
  try {
    return parsePattern(raw);
  } catch (err) {
    throw new ConnectError((err as Error).message, Code.InvalidArgument);
  }
}

function requesterOf(requester: accesscontrolv1.Requester | undefined): Requester {
  if (requester === undefined) throw new ConnectError('requester is required', Code.InvalidArgument);
  return Object.freeze({
    pid: requester.pid > 0 ? requester.pid : undefined,
    name: requester.name,
    absoluteBinaryPath: requester.absoluteBinaryPath,
  });
}

/** Runs the author's callback; its errors become what the engine sees. */
async function run<T>(what: string, logger: Logger, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConnectError) throw err;
    if (signal.aborted) throw ConnectError.from(signal.reason, Code.Canceled);
    const message = err instanceof Error ? err.message : String(err);
    logger.warn(`${what} failed`, { error: message });
    // The message, never the stack.
    throw new ConnectError(message, Code.Internal);
  }
}

function decisionOf(allow: boolean): accesscontrolv1.Decision {
  return allow ? accesscontrolv1.Decision.ALLOW : accesscontrolv1.Decision.DENY;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Date) return 'an invalid Date';
  return typeof value === 'string' ? `a string` : typeof value;
}
