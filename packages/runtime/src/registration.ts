// The registration services the engine serves on every plugin connection (protocol.md §5.1): the
// HEAD `plugins.v1.RegisterService` and the OLD `resolver.v1.RegisterService`, one registration
// per connection, validated in Go's order (and against the size limits of @secrets-engine/secrets,
// which Go does not have), a duplicate name refused in the response itself. A
// plugin registers either as a secrets provider (with a pattern) or, on the HEAD route only, as an
// access-control module (no pattern; §4.2, §10.1).
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import {
  MAX_PLUGIN_NAME_BYTES,
  parsePattern,
  parsePluginName,
  parseVersion,
  type SecretPattern,
} from '@secrets-engine/secrets';

/** What a plugin registered as: Docker's `RegisterPluginRequest.metadata` oneof (§4.2). */
export type PluginRole = 'secrets-provider' | 'access-control';

interface RegistrationBase {
  name: string;
  version: string;
  /** Which schema the plugin registered with (OLD plugins use resolver.v1). */
  protocol: 'plugins.v1' | 'resolver.v1';
}

/** A validated registration. */
export type Registration = ProviderRegistration | ModuleRegistration;

/** A secrets provider: answers GetSecrets for the IDs its pattern covers. */
export interface ProviderRegistration extends RegistrationBase {
  role: 'secrets-provider';
  pattern: SecretPattern;
}

/** An access-control module: has no pattern, is never asked GetSecrets (HEAD only). */
export interface ModuleRegistration extends RegistrationBase {
  role: 'access-control';
  pattern?: undefined;
  protocol: 'plugins.v1';
}

export interface RegistrationInit {
  /** Launched plugins must keep the name they were launched with. */
  expectedName?: string;
  engineName: string;
  engineVersion: string;
  /** Advertised to the plugin as request_timeout (informational, like Go's engine). */
  requestTimeoutMs: number;
  /**
   * Claims the name in the registry. Throws a ConnectError (already_exists) to refuse; the refusal
   * is the RegisterPlugin response itself.
   */
  claim(registration: Registration): void;
}

export interface RegistrationEndpoint {
  routes(router: ConnectRouter): void;
  /** Resolves with the accepted registration. */
  readonly registered: Promise<Registration>;
}

export function createRegistrationEndpoint(init: RegistrationInit): RegistrationEndpoint {
  let attempted = false;
  let resolve!: (r: Registration) => void;
  const registered = new Promise<Registration>((res) => {
    resolve = res;
  });

  const accept = (
    raw: { name: string; version: string; pattern: string | undefined; module?: boolean },
    protocol: Registration['protocol'],
  ) => {
    if (attempted) throw new ConnectError('cannot rerun registration', Code.FailedPrecondition);
    attempted = true;
    if (init.expectedName !== undefined && raw.name !== init.expectedName) {
      // The launch name is valid (at most MAX_PLUGIN_NAME_BYTES); the other may be anything.
      const registered =
        raw.name.length <= MAX_PLUGIN_NAME_BYTES
          ? JSON.stringify(raw.name)
          : `${JSON.stringify(raw.name.slice(0, 64))}… (${raw.name.length} characters)`;
      throw new ConnectError(
        `plugin name cannot be changed when launched by engine: launched as ${JSON.stringify(init.expectedName)}, registered as ${registered}`,
        Code.InvalidArgument,
      );
    }
    const name = invalidArgument(() => parsePluginName(raw.name));
    const version = invalidArgument(() => parseVersion(raw.version));
    const registration: Registration =
      raw.module === true && protocol === 'plugins.v1'
        ? { name, version, role: 'access-control', protocol }
        : {
            name,
            version,
            role: 'secrets-provider',
            pattern: invalidArgument(() => {
              if (raw.pattern === undefined)
                throw new Error('invalid pattern: a secrets provider must register a pattern');
              return parsePattern(raw.pattern);
            }),
            protocol,
          };
    init.claim(registration);
    resolve(registration);
    return {
      engineName: init.engineName,
      engineVersion: init.engineVersion,
      requestTimeout: durationFromMs(init.requestTimeoutMs),
    };
  };

  return {
    registered,
    routes(router) {
      router.service(pluginsv1.RegisterService, {
        registerPlugin(req) {
          const module = req.metadata.case === 'accessControlModule';
          const pattern = req.metadata.case === 'secretsProvider' ? req.metadata.value.pattern : undefined;
          return accept({ name: req.name, version: req.version, pattern, module }, 'plugins.v1');
        },
      });
      router.service(resolverv1.RegisterService, {
        registerPlugin(req) {
          return accept({ name: req.name, version: req.version, pattern: req.pattern }, 'resolver.v1');
        },
      });
    },
  };
}

function invalidArgument<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new ConnectError((err as Error).message, Code.InvalidArgument);
  }
}

function durationFromMs(ms: number): { seconds: bigint; nanos: number } {
  const whole = Math.floor(ms / 1000);
  return { seconds: BigInt(whole), nanos: Math.round((ms - whole * 1000) * 1e6) };
}
