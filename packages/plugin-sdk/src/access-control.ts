// An access-control module (protocol.md §4.2, §9, §10.1): a plugin that registers with
// `access_control_module` instead of a pattern and serves `accesscontrol.v1.AccessControlService`
// (CheckAccess, Authorize) behind the registration gate, never GetSecrets. Connecting,
// registering, Shutdown and the end of the connection are the plugin host's (host.ts).
import { silentLogger } from '@secrets-engine/ipc';
import { accesscontrolv1 } from '@secrets-engine/proto';
import type { SecretPattern } from '@secrets-engine/secrets';
import { expectBoolean, handleAuthorize, handleCheckAccess } from './access-handler.js';
import { PluginConfigError } from './errors.js';
import {
  HostedPlugin,
  type HostedProgram,
  type HostOptions,
  PluginHost,
  validateHostOptions,
} from './host.js';

/**
 * The largest CheckAccess or Authorize request a module takes: 1 MiB. Unlike GetSecrets, it
 * carries the requester, whose process chain holds each process's command line.
 */
const ACCESS_REQUEST_MAX_BYTES = 1024 * 1024;

/**
 * Who asks, as the engine saw it (the kernel's view of the client's socket, §10.1): a plain,
 * frozen object made from the wire's `Requester`.
 */
export interface Requester {
  /** The client's process ID; undefined when the engine did not know it (sent as 0 or absent). */
  readonly pid: number | undefined;
  /** The process name (`comm` on Linux, the binary's file name on macOS); '' when unknown. */
  readonly name: string;
  /** The process's executable, absolute; '' when unknown. */
  readonly absoluteBinaryPath: string;
}

/** What the callbacks receive besides the requester and the pattern(s). */
export interface AccessCheckOptions {
  /** Aborted when the engine gives up on the call (deadline, cancel, shutdown). */
  signal: AbortSignal;
}

/**
 * CheckAccess, asked for every GetSecrets: may `requester` read the secrets `pattern` names?
 * `true` allows, `false` denies; anything else (or a throw) is an error, which the engine treats
 * as a deny.
 */
export type CheckAccessHandler = (
  requester: Requester,
  pattern: SecretPattern,
  options: AccessCheckOptions,
) => boolean | Promise<boolean>;

/** An Authorize answer: `expiresAt` says until when the engine may rely on it. */
export interface AuthorizeResult {
  allow: boolean;
  expiresAt?: Date;
}

/**
 * Authorize, the preflight for a list of patterns (`resolver.v1.AuthorizerService`): an
 * `AuthorizeResult`, or a boolean for `{ allow }` without an expiry.
 */
export type AuthorizeHandler = (
  requester: Requester,
  patterns: readonly SecretPattern[],
  options: AccessCheckOptions,
) => AuthorizeResult | boolean | Promise<AuthorizeResult | boolean>;

export interface AccessControlModuleOptions extends HostOptions {
  checkAccess: CheckAccessHandler;
  /** Default: allow only if `checkAccess` allows every pattern (asked in order, stops at the first deny). */
  authorize?: AuthorizeHandler;
}

/**
 * An access-control module: `serve()` registers as one (an engine without access-control modules
 * refuses it) and answers CheckAccess and Authorize.
 */
export type AccessControlModule = HostedProgram;

/** Creates an access-control module. Validates the options at once (PluginConfigError). */
export function createAccessControlModule(options: AccessControlModuleOptions): AccessControlModule {
  return new AccessControlModuleImpl(options);
}

class AccessControlModuleImpl extends HostedPlugin implements AccessControlModule {
  constructor(options: AccessControlModuleOptions) {
    if (typeof options?.checkAccess !== 'function') {
      throw new PluginConfigError(
        'createAccessControlModule: checkAccess must be a function (requester, pattern, { signal }) => boolean',
      );
    }
    if (options.authorize !== undefined && typeof options.authorize !== 'function') {
      throw new PluginConfigError(
        'createAccessControlModule: authorize must be a function (requester, patterns, { signal }) => { allow, expiresAt? }',
      );
    }
    const identity = validateHostOptions(options, 'createAccessControlModule');
    const checkAccess = options.checkAccess;
    const authorize = options.authorize ?? allOf(checkAccess);
    const host = new PluginHost(
      identity,
      options,
      {
        registerAs: { role: 'access-control' },
        // A requester's process chain carries each process's arguments: room for long command lines.
        requestMaxBytes: ACCESS_REQUEST_MAX_BYTES,
        dataRoutes: (router, { registered, logger }) => {
          router.service(accesscontrolv1.AccessControlService, {
            checkAccess: async (req, ctx) => {
              await registered(ctx);
              return handleCheckAccess(checkAccess, req, ctx.signal, logger);
            },
            authorize: async (req, ctx) => {
              await registered(ctx);
              return handleAuthorize(authorize, req, ctx.signal, logger);
            },
          });
        },
      },
      options.logger ?? silentLogger,
    );
    super(host);
  }
}

/** The default Authorize: every pattern must pass CheckAccess. */
function allOf(checkAccess: CheckAccessHandler): AuthorizeHandler {
  return async (requester, patterns, options) => {
    for (const pattern of patterns) {
      if (!expectBoolean(await checkAccess(requester, pattern, options), 'checkAccess')) return false;
    }
    return true;
  };
}
