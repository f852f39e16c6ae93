// Access-control modules (protocol.md §4.2, §5.1, §10.1) against the shared fake engine: what
// RegisterPlugin carries, every rule of Go's NewAccessControlHandler, the registration gate, and
// how serve() ends.
import { create, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { accesscontrolv1 } from '@secrets-engine/proto';
import { describe, expect, it } from 'vitest';
import { delay, type EngineOptions, recordingLogger, startHijackEngine } from './__tests__/engine.js';
import {
  type AccessControlModuleOptions,
  createAccessControlModule,
  PluginConfigError,
  RegistrationError,
  type Requester,
} from './index.js';

const requester = create(accesscontrolv1.RequesterSchema, {
  pid: 4242,
  name: 'app',
  absoluteBinaryPath: '/usr/bin/app',
  signingInfo: { case: 'linux', value: {} },
});

interface Seen {
  requester: Requester;
  patterns: string[];
  aborted?: boolean;
}

/** A module joined to a fresh fake engine; `serving` is serve()'s promise. */
async function start(
  moduleOptions: Partial<AccessControlModuleOptions> = {},
  engineOptions: EngineOptions = {},
) {
  const engine = await startHijackEngine(engineOptions);
  const seen: Seen[] = [];
  const module = createAccessControlModule({
    name: 'acm',
    version: 'v1.0.0',
    checkAccess: (who, pattern) => {
      seen.push({ requester: who, patterns: [pattern] });
      return pattern.startsWith('allowed/');
    },
    ...moduleOptions,
    env: { SECRETS_ENGINE_SOCKET: engine.socketPath },
  });
  const serving = module.serve({ handleSignals: false });
  serving.catch(() => {});
  const connection = await engine.nextConnection();
  return {
    engine,
    module,
    serving,
    connection,
    seen,
    async [Symbol.asyncDispose]() {
      await module.close();
      await engine.close();
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

describe('createAccessControlModule: registration', () => {
  it('registers on plugins.v1 with access_control_module metadata and no pattern', async () => {
    await using t = await start();
    expect(await t.connection.registration).toEqual({
      name: 'acm',
      version: 'v1.0.0',
      pattern: '',
      metadata: 'accessControlModule',
      protocol: 'plugins.v1',
      timeoutMs: expect.any(Number),
    });
    expect([t.module.name, t.module.version]).toEqual(['acm', 'v1.0.0']);
  });

  it('does not fall back to the OLD route (it cannot carry a module): unimplemented is a RegistrationError', async () => {
    await using t = await start({}, { serves: 'resolver.v1' });
    const err = await t.serving.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistrationError);
    expect((err as Error).message).toMatch(/^engine rejected the registration \(unimplemented\)/);
    expect(t.engine.connections).toHaveLength(1);
    expect((await t.connection.session.closed).kind).toBe('peer');
  });

  it('an engine that refuses modules: serve() rejects with its code and message', async () => {
    await using t = await start(
      {},
      {
        onRegister: () => {
          throw new ConnectError(
            'access-control modules are not supported by this engine',
            Code.Unimplemented,
          );
        },
      },
    );
    await expect(t.serving).rejects.toThrow(
      'engine rejected the registration (unimplemented): access-control modules are not supported by this engine',
    );
  });

  it('does not serve GetSecrets (a module is never a provider, §4.2)', async () => {
    await using t = await start();
    await t.connection.registration;
    const err = await failure(t.connection.resolver.getSecrets({ pattern: '**' }));
    expect(err.code).toBe(Code.Unimplemented);
  });

  it('Shutdown ends serve() with reason shutdown', async () => {
    await using t = await start();
    await t.connection.registration;
    await t.connection.shutdown();
    expect(await t.serving).toEqual({ reason: 'shutdown', mode: 'external' });
  });

  it('validates its options at once (PluginConfigError)', () => {
    const base = { name: 'acm', version: 'v1', checkAccess: () => true };
    expect(() => createAccessControlModule({ ...base, version: '1.0.0' })).toThrow(PluginConfigError);
    expect(() => createAccessControlModule({ ...base, version: '1.0.0' })).toThrow(
      /^createAccessControlModule: version: /,
    );
    expect(() => createAccessControlModule({ ...base, name: 'a/b' })).toThrow(/name/);
    expect(() => createAccessControlModule({ ...base, registrationTimeoutMs: 0 })).toThrow(
      /registrationTimeoutMs/,
    );
    expect(() =>
      createAccessControlModule({ ...base, checkAccess: undefined } as unknown as AccessControlModuleOptions),
    ).toThrow(/checkAccess must be a function/);
    expect(() =>
      createAccessControlModule({ ...base, authorize: 'yes' } as unknown as AccessControlModuleOptions),
    ).toThrow(/authorize must be a function/);
  });
});

describe('CheckAccess (Go NewAccessControlHandler, §10.1)', () => {
  it('answers the callback: ALLOW for true, DENY (explicitly set, varint 0) for false', async () => {
    await using t = await start();
    await t.connection.registration;
    const allowed = await t.connection.accessControl.checkAccess({ pattern: 'allowed/db', requester });
    expect(allowed.decision).toBe(accesscontrolv1.Decision.ALLOW);
    const denied = await t.connection.accessControl.checkAccess({ pattern: 'other/db', requester });
    expect(denied.decision).toBe(accesscontrolv1.Decision.DENY);
    // The decision is always on the wire (field 1 = 0), as Go's handler writes it.
    expect(Buffer.from(toBinary(accesscontrolv1.CheckAccessResponseSchema, denied)).toString('hex')).toBe(
      '0800',
    );
  });

  it('hands the callback a plain, frozen requester { pid, name, absoluteBinaryPath } and the parsed pattern', async () => {
    await using t = await start();
    await t.connection.registration;
    await t.connection.accessControl.checkAccess({ pattern: 'allowed/*', requester });
    expect(t.seen).toEqual([
      { requester: { pid: 4242, name: 'app', absoluteBinaryPath: '/usr/bin/app' }, patterns: ['allowed/*'] },
    ]);
    expect(Object.isFrozen(t.seen[0]!.requester)).toBe(true);
    // An unknown pid (0 on the wire) is undefined.
    await t.connection.accessControl.checkAccess({
      pattern: 'allowed/x',
      requester: create(accesscontrolv1.RequesterSchema, { name: '', absoluteBinaryPath: '' }),
    });
    expect(t.seen[1]!.requester).toEqual({ pid: undefined, name: '', absoluteBinaryPath: '' });
  });

  it('an invalid pattern is invalid_argument and the callback is not called', async () => {
    await using t = await start();
    await t.connection.registration;
    const err = await failure(t.connection.accessControl.checkAccess({ pattern: 'a*b', requester }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain('invalid pattern');
    expect(t.seen).toEqual([]);
  });

  it('a missing requester is invalid_argument "requester is required"', async () => {
    await using t = await start();
    await t.connection.registration;
    const err = await failure(t.connection.accessControl.checkAccess({ pattern: 'allowed/db' }));
    expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, 'requester is required']);
    expect(t.seen).toEqual([]);
  });

  it('a thrown error is internal with its message (never the stack) and is logged', async () => {
    const lines: string[] = [];
    await using t = await start({
      logger: recordingLogger(lines),
      checkAccess: () => {
        throw new Error('policy store is down');
      },
    });
    await t.connection.registration;
    const err = await failure(t.connection.accessControl.checkAccess({ pattern: 'allowed/db', requester }));
    expect([err.code, err.rawMessage]).toEqual([Code.Internal, 'policy store is down']);
    expect(lines.some((l) => l.includes('checkAccess failed') && l.includes('policy store is down'))).toBe(
      true,
    );
  });

  it('a rejected promise is internal too; a thrown ConnectError keeps its code', async () => {
    await using t = await start({
      checkAccess: async (_who, pattern) => {
        if (pattern === 'connect/x') throw new ConnectError('ask later', Code.Unavailable);
        throw new Error('nope');
      },
    });
    await t.connection.registration;
    const rejected = await failure(t.connection.accessControl.checkAccess({ pattern: 'any/x', requester }));
    expect([rejected.code, rejected.rawMessage]).toEqual([Code.Internal, 'nope']);
    const connect = await failure(
      t.connection.accessControl.checkAccess({ pattern: 'connect/x', requester }),
    );
    expect([connect.code, connect.rawMessage]).toEqual([Code.Unavailable, 'ask later']);
  });

  it('an answer that is not a boolean is internal, never an allow', async () => {
    await using t = await start({ checkAccess: (() => 'yes') as unknown as () => boolean });
    await t.connection.registration;
    const err = await failure(t.connection.accessControl.checkAccess({ pattern: 'allowed/db', requester }));
    expect([err.code, err.rawMessage]).toEqual([
      Code.Internal,
      'checkAccess must return true or false, got a string',
    ]);
  });

  it('the callback signal aborts when the engine gives up on the call', async () => {
    let aborted: Promise<void> | undefined;
    await using t = await start({
      checkAccess: (_who, _pattern, { signal }) =>
        new Promise<boolean>((_, reject) => {
          aborted = new Promise<void>((resolve) =>
            signal.addEventListener('abort', () => {
              resolve();
              reject(new Error('gave up'));
            }),
          );
        }),
    });
    await t.connection.registration;
    const call = failure(
      t.connection.accessControl.checkAccess({ pattern: 'allowed/db', requester }, { timeoutMs: 200 }),
    );
    expect((await call).code).toBe(Code.DeadlineExceeded);
    await aborted;
  });
});

describe('Authorize (Go NewAccessControlHandler, §10.1)', () => {
  it('answers { allow, expiresAt } with the decision and expires_at', async () => {
    const expiresAt = new Date('2030-01-02T03:04:05.678Z');
    const seen: string[][] = [];
    await using t = await start({
      authorize: (_who, patterns) => {
        seen.push([...patterns]);
        return { allow: true, expiresAt };
      },
    });
    await t.connection.registration;
    const res = await t.connection.accessControl.authorize({ patterns: ['a/*', 'b/**'], requester });
    expect(res.decision).toBe(accesscontrolv1.Decision.ALLOW);
    expect(res.expiresAt?.seconds).toBe(BigInt(Math.floor(expiresAt.getTime() / 1000)));
    expect(res.expiresAt?.nanos).toBe(678_000_000);
    expect(seen).toEqual([['a/*', 'b/**']]);
  });

  it('a boolean answer is { allow } with no expiry: expires_at is the Go zero time (as timestamppb.New writes it)', async () => {
    await using t = await start({ authorize: () => false });
    await t.connection.registration;
    const res = await t.connection.accessControl.authorize({ patterns: ['a/*'], requester });
    expect(res.decision).toBe(accesscontrolv1.Decision.DENY);
    expect([res.expiresAt?.seconds, res.expiresAt?.nanos]).toEqual([-62135596800n, 0]);
  });

  it('without authorize: allow only if checkAccess allows every pattern, asked in order until the first deny', async () => {
    await using t = await start();
    await t.connection.registration;
    const allowed = await t.connection.accessControl.authorize({
      patterns: ['allowed/a', 'allowed/b'],
      requester,
    });
    expect(allowed.decision).toBe(accesscontrolv1.Decision.ALLOW);
    const denied = await t.connection.accessControl.authorize({
      patterns: ['allowed/c', 'other/d', 'allowed/e'],
      requester,
    });
    expect(denied.decision).toBe(accesscontrolv1.Decision.DENY);
    expect(t.seen.map((s) => s.patterns[0])).toEqual(['allowed/a', 'allowed/b', 'allowed/c', 'other/d']);
  });

  it('no patterns is invalid_argument "at least one pattern is required"', async () => {
    await using t = await start({ authorize: () => true });
    await t.connection.registration;
    const err = await failure(t.connection.accessControl.authorize({ patterns: [], requester }));
    expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, 'at least one pattern is required']);
  });

  it('an invalid pattern, or a missing requester, is invalid_argument', async () => {
    let called = 0;
    await using t = await start({
      authorize: () => {
        called++;
        return true;
      },
    });
    await t.connection.registration;
    const bad = await failure(t.connection.accessControl.authorize({ patterns: ['ok/*', '**x'], requester }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toContain('invalid pattern');
    const noRequester = await failure(t.connection.accessControl.authorize({ patterns: ['ok/*'] }));
    expect([noRequester.code, noRequester.rawMessage]).toEqual([
      Code.InvalidArgument,
      'requester is required',
    ]);
    expect(called).toBe(0);
  });

  it('a thrown error, or an answer that is not a result, is internal', async () => {
    await using t = await start({
      authorize: (_who, patterns) => {
        if (patterns[0] === 'throw/x') throw new Error('directory unreachable');
        if (patterns[0] === 'bad/x') return { allow: 'yes' } as unknown as boolean;
        return { allow: true, expiresAt: new Date(Number.NaN) };
      },
    });
    await t.connection.registration;
    const thrown = await failure(t.connection.accessControl.authorize({ patterns: ['throw/x'], requester }));
    expect([thrown.code, thrown.rawMessage]).toEqual([Code.Internal, 'directory unreachable']);
    const bad = await failure(t.connection.accessControl.authorize({ patterns: ['bad/x'], requester }));
    expect([bad.code, bad.rawMessage]).toEqual([
      Code.Internal,
      'authorize must return true, false or { allow, expiresAt? }, got object',
    ]);
    const badDate = await failure(t.connection.accessControl.authorize({ patterns: ['date/x'], requester }));
    expect([badDate.code, badDate.rawMessage]).toEqual([
      Code.Internal,
      'authorize: expiresAt must be a valid Date, got an invalid Date',
    ]);
  });
});

describe('gating: access calls wait for registration (§5.1 step 7, HEAD gates AccessControlService)', () => {
  it('a CheckAccess that arrives before registration completes waits, then is answered', async () => {
    let answered = false;
    let call: Promise<{ answeredFirst: boolean; decision: accesscontrolv1.Decision }> | undefined;
    await using t = await start(
      {},
      {
        onRegister: async (_reg, _ctx, connection) => {
          call = connection.accessControl
            .checkAccess({ pattern: 'allowed/x', requester })
            .then((res) => ({ answeredFirst: answered, decision: res.decision }));
          await delay(300);
          answered = true;
        },
      },
    );
    await t.connection.registration;
    expect(await call).toEqual({ answeredFirst: true, decision: accesscontrolv1.Decision.ALLOW });
  });

  it('registration never completes: deadline_exceeded "registration incomplete (timeout after …)"', async () => {
    let call: Promise<unknown> | undefined;
    await using t = await start(
      { registrationTimeoutMs: 300 },
      {
        onRegister: (_reg, _ctx, connection) => {
          call = connection.accessControl
            .authorize({ patterns: ['a/*'], requester })
            .catch((e: unknown) => e);
          return new Promise(() => {});
        },
      },
    );
    await t.connection.registration;
    const err = (await call) as ConnectError;
    expect([err.code, err.rawMessage]).toEqual([
      Code.DeadlineExceeded,
      'registration incomplete (timeout after 300ms)',
    ]);
    await expect(t.serving).rejects.toThrow('registration timed out after 300ms');
    expect(t.seen).toEqual([]);
  });
});
