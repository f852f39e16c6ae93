// The access policy and its chain (issue 11 item 4), and access control on a real engine socket.
import { Code, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { resolverv1 } from '@secrets-engine/proto';
import { describe, expect, it } from 'vitest';
import {
  builtin,
  captureLogger,
  connectError,
  dec,
  engineClients,
  startedEngine,
} from './__tests__/helpers.js';
import {
  type AccessPolicy,
  type Caller,
  covers,
  createAccessControl,
  rulesPolicy,
  sameUserPolicy,
} from './access.js';

const me: Caller = { pid: 10, uid: 1000, gid: 1000, name: 'app', executable: '/usr/bin/app' };
const other: Caller = { pid: 11, uid: 1001, gid: 1001, name: 'evil', executable: '/tmp/evil' };
const never = new AbortController().signal;

describe('covers: sound pattern inclusion (never Go Includes quirks)', () => {
  it.each([
    ['**', 'a/b/c', true],
    ['a/**', 'a/*', true],
    ['a/**', 'a/**', true],
    ['a/*', 'a/b', true],
    ['a/*', 'a/*', true],
    ['a/*', 'a/**', false], // ** may be zero or two components
    ['a/b', 'a/*', false], // Go's Includes says true: a/* also matches a/c
    ['*', '**', false],
    ['a/**/z', 'a/b/z', true],
    ['a/**/z', 'a/**', false],
    ['b/**', 'a/b', false],
    ['a//b', 'a/b', false],
  ])('covers(%s, %s) is %s', (rule, request, expected) => {
    expect(covers(rule, request)).toBe(expected);
  });
});

describe('policies', () => {
  it('sameUserPolicy allows only its uid and says why otherwise', async () => {
    const policy = sameUserPolicy(1000);
    expect(await policy(me, { method: 'ListPlugins' }, { signal: never })).toEqual({ allow: true });
    expect(await policy(other, { method: 'ListPlugins' }, { signal: never })).toEqual({
      allow: false,
      reason: "uid 1001 is not the engine's uid 1000",
    });
  });

  it('rulesPolicy: every field of a rule must match; a pattern opens only what it covers', async () => {
    const policy = rulesPolicy([{ uid: 1000 }, { uid: 1001, executable: '/tmp/evil', pattern: 'shared/**' }]);
    const ask = (c: Caller, pattern: string) =>
      policy(c, { method: 'GetSecrets', pattern }, { signal: never });
    expect(await ask(me, 'private/x')).toEqual({ allow: true });
    expect(await ask(other, 'shared/x')).toEqual({ allow: true });
    expect(await ask(other, 'private/x')).toEqual({
      allow: false,
      reason: 'no access rule allows uid 1001 (/tmp/evil) to call GetSecrets "private/x"',
    });
    expect(await ask({ ...other, executable: '/usr/bin/other' }, 'shared/x')).toMatchObject({ allow: false });
    // A pattern rule does not open management calls; Authorize needs every pattern covered.
    expect(await policy(other, { method: 'ListPlugins' }, { signal: never })).toMatchObject({ allow: false });
    expect(
      await policy(other, { method: 'Authorize', patterns: ['shared/a', 'x/y'] }, { signal: never }),
    ).toMatchObject({
      allow: false,
    });
    expect(await rulesPolicy([])(me, { method: 'GetVersion' }, { signal: never })).toMatchObject({
      allow: false,
    });
  });
});

describe('createAccessControl: fail closed', () => {
  const decide = (policy: AccessPolicy, caller: Caller | Error = me, timeoutMs = 50) =>
    createAccessControl({ policy, timeoutMs, modules: () => [] }).decide(
      caller,
      { method: 'GetSecrets', pattern: 'a/b' },
      never,
    );

  it('a throwing policy, a late one, a garbage answer and an unknown caller are denials that say which', async () => {
    expect(
      await decide(() => {
        throw new Error('ldap is down');
      }),
    ).toEqual({ allow: false, reason: 'the access policy failed: ldap is down' });
    expect(await decide(() => new Promise(() => {}))).toEqual({
      allow: false,
      reason: 'the access policy did not answer within 50 ms',
    });
    expect(await decide(() => 'yes' as never)).toEqual({
      allow: false,
      reason: 'the access policy failed: it answered "yes", not a boolean or { allow: boolean }',
    });
    expect(await decide(() => true, new Error('getsockopt failed'))).toEqual({
      allow: false,
      reason: 'the caller is unknown: getsockopt failed',
    });
    expect(await decide(async () => ({ allow: true }))).toEqual({ allow: true });
  });

  it('the policy deadline aborts the signal it gave the policy', async () => {
    let aborted = false;
    await decide(
      (_c, _r, { signal }) => new Promise(() => signal.addEventListener('abort', () => (aborted = true))),
    );
    expect(aborted).toBe(true);
  });

  it("a synchronous policy that ignores its signal adds no listener to the call's; one that reads it gets one, released when it answers", async () => {
    const counted = () => {
      const controller = new AbortController();
      const added: string[] = [];
      const add = controller.signal.addEventListener.bind(controller.signal);
      controller.signal.addEventListener = ((type: string, ...rest: [never, never]) => {
        added.push(type);
        add(type, ...rest);
      }) as never;
      return { controller, added };
    };
    const control = (policy: AccessPolicy) =>
      createAccessControl({ policy, timeoutMs: 50, modules: () => [] });
    const quiet = counted();
    expect(
      await control(() => true).decide(me, { method: 'GetSecrets', pattern: 'a/b' }, quiet.controller.signal),
    ).toEqual({ allow: true });
    expect(quiet.added).toEqual([]);
    // A policy that reads its signal gets one fed by the call's, not yet aborted.
    const reading = counted();
    let seen: AbortSignal | undefined;
    expect(
      await control((_c, _r, { signal }) => {
        seen = signal;
        return { allow: true };
      }).decide(me, { method: 'GetSecrets', pattern: 'a/b' }, reading.controller.signal),
    ).toEqual({ allow: true });
    expect(seen?.aborted).toBe(false);
    expect(reading.added).toEqual(['abort']);
    // A synchronous answer is final: the listener on the call's signal went with it.
    reading.controller.abort(new Error('client went away'));
    expect(seen?.aborted).toBe(false);
  });

  it('after the policy, every module is asked; a denial, a throw or a late module denies', async () => {
    const control = (check: () => Promise<boolean>) =>
      createAccessControl({
        policy: () => true,
        timeoutMs: 50,
        modules: () => [{ name: 'acm', check }],
      }).decide(me, { method: 'GetSecrets', pattern: 'a/b' }, never);
    expect(await control(async () => true)).toEqual({ allow: true });
    expect(await control(async () => false)).toEqual({
      allow: false,
      reason: 'access-control module "acm" denied it',
    });
    expect(
      await control(async () => {
        throw new Error('session closed');
      }),
    ).toEqual({ allow: false, reason: 'access-control module "acm" failed: session closed' });
    expect(await control(() => new Promise(() => {}))).toEqual({
      allow: false,
      reason: 'access-control module "acm" did not answer within 50 ms',
    });
  });
});

describe('access control on the engine socket', () => {
  const vault = builtin('vault', 'db/**', () => [{ id: 'db/password', value: 'hunter2' }]);

  it('the default policy lets the engine uid in (every test of this package relies on it)', async () => {
    const engine = await startedEngine({ plugins: [vault] });
    const res = await engineClients(engine.socketPath).resolver.getSecrets({ pattern: 'db/password' });
    expect(dec(res.envelopes[0]!.value)).toBe('hunter2');
  });

  it('a denying policy gets permission_denied with its reason, the plugin is never asked, nothing leaks to the log', async () => {
    let asked = 0;
    const logger = captureLogger();
    const seen: unknown[] = [];
    const engine = await startedEngine({
      logger,
      plugins: [
        builtin('vault', 'db/**', () => {
          asked++;
          return [{ id: 'db/password', value: 'hunter2' }];
        }),
      ],
      access: {
        policy: (caller, request) => {
          seen.push({ uid: caller.uid, pid: caller.pid, request });
          return { allow: false, reason: 'not on the list' };
        },
      },
    });
    const clients = engineClients(engine.socketPath);
    const err = await connectError(clients.resolver.getSecrets({ pattern: 'db/password' }));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toBe('access denied: not on the list');
    expect(asked).toBe(0);
    // The caller is the kernel's peer: this process.
    expect(seen).toEqual([
      { uid: process.getuid!(), pid: process.pid, request: { method: 'GetSecrets', pattern: 'db/password' } },
    ]);
    expect((await connectError(clients.management.listPlugins({}))).code).toBe(Code.PermissionDenied);
    expect(JSON.stringify(logger.entries)).not.toContain('hunter2');
    expect(logger.entries.some((e) => e.message === 'access denied')).toBe(true);
  });

  it('AuthorizerService/Authorize answers the policy decision; no patterns or a bad one is invalid_argument', async () => {
    const engine = await startedEngine({
      plugins: [vault],
      access: { policy: rulesPolicy([{ uid: process.getuid!(), pattern: 'db/**' }]) },
    });
    const authorizer = createClient(
      resolverv1.AuthorizerService,
      createConnectTransport({
        httpVersion: '1.1',
        baseUrl: 'http://unix',
        nodeOptions: { socketPath: engine.socketPath },
      }),
    );
    expect((await authorizer.authorize({ patterns: ['db/password'] })).decision).toBe(
      resolverv1.Decision.ALLOW,
    );
    expect((await authorizer.authorize({ patterns: ['db/*', 'other/x'] })).decision).toBe(
      resolverv1.Decision.DENY,
    );
    const none = await connectError(authorizer.authorize({ patterns: [] }));
    expect([none.code, none.rawMessage]).toEqual([Code.InvalidArgument, 'at least one pattern is required']);
    const bad = await connectError(authorizer.authorize({ patterns: ['a//b'] }));
    expect(bad.code).toBe(Code.InvalidArgument);
  });

  it('a policy that hangs is cut at access.timeoutMs and the call is denied, not hung', async () => {
    const engine = await startedEngine({
      plugins: [vault],
      access: { policy: () => new Promise(() => {}), timeoutMs: 100 },
    });
    const err = await connectError(
      engineClients(engine.socketPath).resolver.getSecrets({ pattern: 'db/password' }),
    );
    expect([err.code, err.rawMessage]).toEqual([
      Code.PermissionDenied,
      'access denied: the access policy did not answer within 100 ms',
    ]);
  });

  it('a bad access option is a clear configuration error', async () => {
    const { createEngine, EngineConfigError } = await import('./index.js');
    expect(() => createEngine({ access: { policy: 'allow' as never } })).toThrow(EngineConfigError);
    expect(() => createEngine({ access: { policy: 'allow' as never } })).toThrow(
      /access.policy must be a function/,
    );
    expect(() => createEngine({ access: { timeoutMs: -1 } })).toThrow(/access.timeoutMs/);
  });
});
