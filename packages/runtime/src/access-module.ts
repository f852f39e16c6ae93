// An access-control module as the engine calls it (protocol.md §4.2, §10.1): a plugin that
// registered with `access_control_module` and serves `accesscontrol.v1.AccessControlService` on
// its session. It answers CheckAccess (one pattern) and Authorize (a preflight for several); it is
// never asked GetSecrets. Anything but a well-formed answer — an RPC error, a missing or unknown
// decision, a closed session, a missed deadline — is an AccessModuleError: this file never
// decides to deny, the caller (the engine's policy chain) turns every throw into a deny.
import { isFieldSet } from '@bufbuild/protobuf';
import { ConnectError, createClient } from '@connectrpc/connect';
// The Connect wire name of a code (`unavailable`), as engines and Go clients print it.
import { codeToString } from '@connectrpc/connect/protocol-connect';
import { createSessionTransport, type MuxSession } from '@secrets-engine/ipc';
import { accesscontrolv1 } from '@secrets-engine/proto';
import { fromGoTimestamp } from '@secrets-engine/secrets';
import { RuntimeError } from './errors.js';

/** A registered, running access-control module. */
export interface AccessModule {
  /** The module's registered plugin name. */
  readonly name: string;
  /**
   * CheckAccess: may `requester` read what `pattern` names? True only for DECISION_ALLOW.
   * Rejects with AccessModuleError when the module cannot answer (deny, for the caller).
   */
  checkAccess(requester: accesscontrolv1.Requester, pattern: string, signal: AbortSignal): Promise<boolean>;
  /**
   * Authorize (the preflight of `resolver.v1.AuthorizerService`): `allow` only for DECISION_ALLOW;
   * `expiresAt` when the module said how long the answer holds (absent for the Go zero time).
   * Rejects with AccessModuleError when the module cannot answer.
   */
  authorize(
    requester: accesscontrolv1.Requester,
    patterns: readonly string[],
    signal: AbortSignal,
  ): Promise<{ allow: boolean; expiresAt?: Date }>;
}

/**
 * An access-control module did not give a usable answer: the call failed (its Connect code is in
 * the message and `cause`), the answer had no or an unknown decision, or the module is gone.
 * Callers treat it as a deny.
 */
export class AccessModuleError extends RuntimeError {
  static {
    AccessModuleError.prototype.name = 'AccessModuleError';
  }
  /** The module's name. */
  readonly module: string;
  constructor(module: string, reason: string, options?: { cause?: unknown }) {
    super(`access-control module ${JSON.stringify(module)} failed: ${reason}`, options);
    this.module = module;
  }
}

export interface SessionAccessModuleOptions {
  /** Deadline of every call (the engine's requestTimeoutMs, §0 "Requests"); 0 = none. */
  timeoutMs: number;
}

/** An access-control module reached over a plugin's session (launched or external). */
export function sessionAccessModule(
  session: MuxSession,
  name: string,
  options: SessionAccessModuleOptions,
): AccessModule {
  const client = createClient(accesscontrolv1.AccessControlService, createSessionTransport(session));
  const callOptions = (signal: AbortSignal) =>
    options.timeoutMs > 0 ? { signal, timeoutMs: options.timeoutMs } : { signal };
  /** Runs one call; every failure becomes an AccessModuleError naming the module. */
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (session.status !== 'open') {
      throw new AccessModuleError(name, `unavailable: its connection is ${session.status}`);
    }
    try {
      return await fn();
    } catch (err) {
      const ce = ConnectError.from(err);
      throw new AccessModuleError(name, `${codeToString(ce.code)}: ${ce.rawMessage}`, { cause: ce });
    }
  };
  const decision = (
    res: accesscontrolv1.CheckAccessResponse | accesscontrolv1.AuthorizeResponse,
    schema: typeof accesscontrolv1.CheckAccessResponseSchema | typeof accesscontrolv1.AuthorizeResponseSchema,
  ): boolean => {
    // Go's handler always sets the decision (DENY too, as varint 0): an absent one is a broken answer.
    if (!isFieldSet(res, schema.field.decision!)) {
      throw new AccessModuleError(name, 'its answer has no decision');
    }
    switch (res.decision) {
      case accesscontrolv1.Decision.ALLOW:
        return true;
      case accesscontrolv1.Decision.DENY:
        return false;
      default:
        throw new AccessModuleError(name, `its answer has an unknown decision ${res.decision}`);
    }
  };
  return {
    name,
    async checkAccess(requester, pattern, signal) {
      const res = await call(() => client.checkAccess({ pattern, requester }, callOptions(signal)));
      return decision(res, accesscontrolv1.CheckAccessResponseSchema);
    },
    async authorize(requester, patterns, signal) {
      const res = await call(() =>
        client.authorize({ patterns: [...patterns], requester }, callOptions(signal)),
      );
      const allow = decision(res, accesscontrolv1.AuthorizeResponseSchema);
      let expiresAt: Date | undefined;
      try {
        expiresAt = fromGoTimestamp(res.expiresAt, 'expires_at');
      } catch (err) {
        throw new AccessModuleError(name, `its answer has an invalid expires_at: ${(err as Error).message}`, {
          cause: err,
        });
      }
      return expiresAt === undefined ? { allow } : { allow, expiresAt };
    },
  };
}
