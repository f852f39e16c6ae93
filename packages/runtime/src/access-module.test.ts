// Access-control modules in the engine (protocol.md §4.2, §5.1, §10.1): a real module process
// written with the built SDK, launched from a plugins folder or started by hand, registers, is
// listed with access-control metadata, never resolves secrets, and answers CheckAccess and
// Authorize through engine.accessModules(). Every way it can fail to answer is an
// AccessModuleError naming it, never a hang. In-process fakes cover answers the SDK never gives.
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create } from '@bufbuild/protobuf';
import { Code } from '@connectrpc/connect';
import { accesscontrolv1 } from '@secrets-engine/proto';
import { spawnCaptured } from '@secrets-engine/test-utils/process.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { builtin, captureLogger, joinEngine, startedEngine, tempDir, waitFor } from './__tests__/helpers.js';
import { AccessModuleError } from './access-module.js';
import { type Engine, type EngineOptions, RuntimeError } from './index.js';
import { metadataToProto } from './launched.js';
import { toRequester } from './peer.js';

const fixture = fileURLToPath(new URL('./__tests__/fixtures/sdk-access-module.mjs', import.meta.url));
const providerFixture = fileURLToPath(new URL('./__tests__/fixtures/sdk-plugin.mjs', import.meta.url));

const app = toRequester({ pid: 4242, uid: 1000, gid: 1000, name: 'app', executable: '/usr/bin/app' });
const other = toRequester({ pid: 4243, uid: 1000, gid: 1000, name: 'other', executable: '/usr/bin/other' });
const signal = () => AbortSignal.timeout(10_000);

/** An engine launching the module fixture as `acm` (and the provider fixture as `alpha`). */
async function launchedModule(options: EngineOptions = {}, { provider = false } = {}) {
  const pluginsDir = join(tempDir(), 'plugins');
  mkdirSync(pluginsDir);
  symlinkSync(fixture, join(pluginsDir, 'acm'));
  if (provider) symlinkSync(providerFixture, join(pluginsDir, 'alpha'));
  const logger = captureLogger();
  const engine = await startedEngine({
    pluginsDir,
    registrationTimeoutMs: 5_000,
    shutdownTimeoutMs: 1_000,
    pluginEnv: { FIXTURE_PATTERN: 'alpha/**', FIXTURE_EXPIRES_AT: '2030-01-02T03:04:05.678Z' },
    logger,
    ...options,
  });
  return { engine, logger };
}

function onlyModule(engine: Engine) {
  const modules = engine.accessModules();
  expect(modules.map((m) => m.name)).toEqual(['acm']);
  return modules[0]!;
}

async function moduleError(promise: Promise<unknown>): Promise<AccessModuleError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AccessModuleError);
  return err as AccessModuleError;
}

describe('a launched access-control module (real process, built SDK)', () => {
  it('registers, is listed with access-control metadata, and is never asked GetSecrets', async () => {
    const { engine, logger } = await launchedModule({}, { provider: true });
    const byName = Object.fromEntries(engine.listPlugins().map((p) => [p.name, p]));
    expect(byName.acm).toMatchObject({
      name: 'acm',
      kind: 'launched',
      version: 'v0.4.0',
      role: 'access-control',
      pattern: undefined,
      status: 'running',
    });
    expect(byName.alpha).toMatchObject({ role: 'secrets-provider', pattern: 'alpha/**' });
    // What the wire's Plugin.metadata oneof carries for each (§4.2).
    expect(metadataToProto(byName.acm!)).toMatchObject({ case: 'accessControlModule' });
    expect(metadataToProto(byName.alpha!)).toMatchObject({
      case: 'secretsProvider',
      value: { pattern: 'alpha/**' },
    });

    // Resolution covers providers only: the module is not part of the fan-out, so nothing failed.
    const secrets = await engine.getSecrets('**');
    expect(secrets.map((s) => s.provider)).toEqual(['alpha']);
    await expect(engine.getSecrets('acm/**')).rejects.toMatchObject({ code: Code.NotFound });
    expect(logger.lines().filter((l) => l.includes('"acm"') && /plugin failed|deadline/.test(l))).toEqual([]);
    expect(logger.entries.some((e) => e.message === 'plugin failed')).toBe(false);
  });

  it('checkAccess returns its decision; authorize returns the decision and expiry', async () => {
    const { engine } = await launchedModule();
    const acm = onlyModule(engine);
    expect(await acm.checkAccess(app, 'allowed/db', signal())).toBe(true);
    expect(await acm.checkAccess(app, 'secret/db', signal())).toBe(false);
    expect(await acm.checkAccess(other, 'allowed/db', signal())).toBe(false);
    expect(await acm.authorize(app, ['allowed/a', 'allowed/b/**'], signal())).toEqual({
      allow: true,
      expiresAt: new Date('2030-01-02T03:04:05.678Z'),
    });
    // A deny: the SDK writes no expiry as the Go zero time, which reads as none.
    expect(await acm.authorize(app, ['allowed/a', 'secret/b'], signal())).toEqual({ allow: false });
  });

  it('a module whose callback throws: AccessModuleError naming it, with the code and message', async () => {
    const { engine } = await launchedModule();
    const err = await moduleError(onlyModule(engine).checkAccess(app, 'allowed/throw', signal()));
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err.name).toBe('AccessModuleError');
    expect(err.module).toBe('acm');
    expect(err.message).toBe('access-control module "acm" failed: internal: policy store is down');
    // The SDK's own rules reach the engine the same way.
    const none = await moduleError(onlyModule(engine).authorize(app, [], signal()));
    expect(none.message).toBe(
      'access-control module "acm" failed: invalid_argument: at least one pattern is required',
    );
  });

  it('a module that exits mid-call: AccessModuleError (unavailable), not a hang; then it is not listed as a module', async () => {
    // A deadline far beyond the test's timeout: an answer at all proves it did not wait for it.
    const { engine } = await launchedModule({
      requestTimeoutMs: 600_000,
      restart: {
        initialDelayMs: 60_000,
        multiplier: 1,
        maxDelayMs: 60_000,
        maxRetries: 5,
        healthyAfterMs: 10_000,
      },
    });
    const acm = onlyModule(engine);
    const err = await moduleError(acm.checkAccess(app, 'allowed/exit', signal()));
    expect(err.module).toBe('acm');
    expect(err.message).toMatch(/^access-control module "acm" failed: unavailable: /);
    await waitFor('the module to be gone', () => engine.accessModules().length === 0, { timeoutMs: 30_000 });
    expect(engine.listPlugins()[0]).toMatchObject({ name: 'acm', status: 'crashed', role: 'access-control' });
    // The module object kept from before fails at once: its connection is closed.
    const late = await moduleError(acm.checkAccess(app, 'allowed/db', signal()));
    expect(late.message).toMatch(/^access-control module "acm" failed: unavailable: /);
  });

  it('a module that does not answer in time: AccessModuleError (deadline_exceeded) after requestTimeoutMs', async () => {
    const { engine } = await launchedModule({ requestTimeoutMs: 300 });
    const err = await moduleError(onlyModule(engine).checkAccess(app, 'allowed/hang', signal()));
    expect(err.message).toMatch(/^access-control module "acm" failed: deadline_exceeded: /);
    // The caller's signal aborts the call too.
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    const cancelled = await moduleError(onlyModule(engine).checkAccess(app, 'allowed/hang', abort.signal));
    expect(cancelled.message).toMatch(/^access-control module "acm" failed: canceled: /);
  });

  it('disable takes it out of accessModules(); enable brings it back', async () => {
    const { engine } = await launchedModule();
    await engine.disablePlugin('acm');
    expect(engine.accessModules()).toEqual([]);
    await engine.enablePlugin('acm');
    await waitFor('the module to register again', () => engine.accessModules().length === 1, {
      timeoutMs: 5_000,
    });
    expect(await onlyModule(engine).checkAccess(app, 'allowed/db', signal())).toBe(true);
  });
});

describe('an external access-control module (started by hand, /hijack)', () => {
  it('registers, is listed (external, access-control), answers, and leaves accessModules() when it exits', async () => {
    const engine = await startedEngine();
    const proc = spawnCaptured(process.execPath, [fixture], {
      env: { ...process.env, SECRETS_ENGINE_SOCKET: engine.socketPath, FIXTURE_NAME: 'hand-acm' } as Record<
        string,
        string
      >,
    });
    onTestFinished(() => {
      proc.child.kill('SIGKILL');
    });
    await waitFor('the module to register', () => engine.accessModules().length === 1, { timeoutMs: 5_000 });
    expect(engine.listPlugins()).toMatchObject([
      { name: 'hand-acm', kind: 'external', role: 'access-control', pattern: undefined, status: 'running' },
    ]);
    const [acm] = engine.accessModules();
    expect(acm!.name).toBe('hand-acm');
    expect(await acm!.checkAccess(app, 'allowed/x', signal())).toBe(true);
    expect(await acm!.authorize(other, ['allowed/x'], signal())).toEqual({ allow: false });
    await expect(engine.getSecrets('**')).rejects.toMatchObject({ code: Code.NotFound });

    const err = await moduleError(acm!.checkAccess(app, 'allowed/exit', signal()));
    expect(err.message).toMatch(/^access-control module "hand-acm" failed: unavailable: /);
    await proc.exited;
    await waitFor('the module to leave', () => engine.accessModules().length === 0, { timeoutMs: 30_000 });
    expect(engine.listPlugins()).toEqual([]);
  });
});

describe('engine.accessModules() and answers no SDK module gives (in-process fakes)', () => {
  /** An in-process external module whose CheckAccess answers `decision`, its Authorize `expiresAt`. */
  async function fakeModule(
    engine: Engine,
    name: string,
    answer: {
      decision?: number;
      expiresAt?: { seconds: bigint; nanos: number };
    } = { decision: accesscontrolv1.Decision.ALLOW },
  ) {
    const plugin = await joinEngine(engine.socketPath, {
      accessControl: {
        checkAccess: () =>
          create(
            accesscontrolv1.CheckAccessResponseSchema,
            answer.decision === undefined ? {} : { decision: answer.decision },
          ),
        authorize: () =>
          create(accesscontrolv1.AuthorizeResponseSchema, {
            ...(answer.decision === undefined ? {} : { decision: answer.decision }),
            ...(answer.expiresAt === undefined ? {} : { expiresAt: answer.expiresAt }),
          }),
      },
    });
    await plugin.register({ name, accessControlModule: true });
    return plugin;
  }

  it('lists modules in registration order, only registered, running and enabled ones; builtins never', async () => {
    const engine = await startedEngine({ plugins: [builtin('aaa', '**', () => [])] });
    const zeta = await fakeModule(engine, 'zeta');
    await fakeModule(engine, 'beta');
    const provider = await joinEngine(engine.socketPath);
    await provider.register({ name: 'gamma', pattern: 'g/**' });
    expect(engine.accessModules().map((m) => m.name)).toEqual(['zeta', 'beta']);
    expect(engine.listPlugins().map((p) => [p.name, p.role])).toEqual([
      ['aaa', 'secrets-provider'],
      ['beta', 'access-control'],
      ['gamma', 'secrets-provider'],
      ['zeta', 'access-control'],
    ]);
    await engine.disablePlugin('zeta');
    expect(engine.accessModules().map((m) => m.name)).toEqual(['beta']);
    await engine.enablePlugin('zeta');
    expect(engine.accessModules().map((m) => m.name)).toEqual(['zeta', 'beta']);
    await zeta.close();
    await waitFor('zeta to leave', () => engine.accessModules().length === 1, { timeoutMs: 30_000 });
    expect(engine.accessModules().map((m) => m.name)).toEqual(['beta']);
    // A module and a provider share the one namespace of names.
    const dup = await joinEngine(engine.socketPath);
    await expect(dup.register({ name: 'gamma', accessControlModule: true })).rejects.toMatchObject({
      code: Code.AlreadyExists,
    });
  });

  it('DENY is false, ALLOW is true; a missing or unknown decision is an AccessModuleError, never an allow', async () => {
    const engine = await startedEngine();
    await fakeModule(engine, 'deny', { decision: accesscontrolv1.Decision.DENY });
    await fakeModule(engine, 'missing', {});
    await fakeModule(engine, 'seven', { decision: 7 });
    const [deny, missing, seven] = engine.accessModules();
    expect(await deny!.checkAccess(app, 'a/b', signal())).toBe(false);
    expect(await deny!.authorize(app, ['a/b'], signal())).toEqual({ allow: false });
    expect((await moduleError(missing!.checkAccess(app, 'a/b', signal()))).message).toBe(
      'access-control module "missing" failed: its answer has no decision',
    );
    expect((await moduleError(missing!.authorize(app, ['a/b'], signal()))).message).toBe(
      'access-control module "missing" failed: its answer has no decision',
    );
    expect((await moduleError(seven!.checkAccess(app, 'a/b', signal()))).message).toBe(
      'access-control module "seven" failed: its answer has an unknown decision 7',
    );
  });

  it('expires_at: absent or the Go zero time is no expiry; a time no Date holds is an AccessModuleError', async () => {
    const engine = await startedEngine();
    await fakeModule(engine, 'absent', { decision: accesscontrolv1.Decision.ALLOW });
    await fakeModule(engine, 'gozero', {
      decision: accesscontrolv1.Decision.ALLOW,
      expiresAt: { seconds: -62135596800n, nanos: 0 },
    });
    await fakeModule(engine, 'huge', {
      decision: accesscontrolv1.Decision.ALLOW,
      expiresAt: { seconds: 10n ** 15n, nanos: 0 },
    });
    const [absent, gozero, huge] = engine.accessModules();
    expect(await absent!.authorize(app, ['a/b'], signal())).toEqual({ allow: true });
    expect(await gozero!.authorize(app, ['a/b'], signal())).toEqual({ allow: true });
    expect((await moduleError(huge!.authorize(app, ['a/b'], signal()))).message).toMatch(
      /^access-control module "huge" failed: its answer has an invalid expires_at: /,
    );
  });

  it('a module that serves no AccessControlService: AccessModuleError (unimplemented)', async () => {
    const engine = await startedEngine();
    const plugin = await joinEngine(engine.socketPath);
    await plugin.register({ name: 'empty', accessControlModule: true });
    const [empty] = engine.accessModules();
    expect((await moduleError(empty!.checkAccess(app, 'a/b', signal()))).message).toMatch(
      /^access-control module "empty" failed: unimplemented: /,
    );
  });
});

describe('the engine consults its access-control modules (issue 11 item 4)', () => {
  it('GetSecrets and Authorize on the engine socket ask the module after the policy; a deny, a throw or a dead module deny, naming it', async () => {
    const { readFileSync } = await import('node:fs');
    const { createClient } = await import('@connectrpc/connect');
    const { createConnectTransport } = await import('@connectrpc/connect-node');
    const { resolverv1 } = await import('@secrets-engine/proto');
    const { connectError, dec } = await import('./__tests__/helpers.js');
    const me = readFileSync('/proc/self/comm', 'utf8').trimEnd();
    const asked: string[] = [];
    const { engine } = await launchedModule({
      pluginEnv: { FIXTURE_ALLOW_NAME: me },
      plugins: [
        builtin('vault', '**', (pattern) => {
          asked.push(pattern);
          return [{ id: pattern, value: `value-of-${pattern}` }];
        }),
      ],
    });
    await waitFor('the module registered', () => engine.accessModules().length === 1);
    const transport = createConnectTransport({
      httpVersion: '1.1',
      baseUrl: 'http://unix',
      nodeOptions: { socketPath: engine.socketPath },
    });
    const resolver = createClient(resolverv1.ResolverService, transport);
    const authorizer = createClient(resolverv1.AuthorizerService, transport);
    const ok = await resolver.getSecrets({ pattern: 'allowed/db' });
    expect(dec(ok.envelopes[0]!.value)).toBe('value-of-allowed/db');
    const denied = await connectError(resolver.getSecrets({ pattern: 'private/db' }));
    expect([denied.code, denied.rawMessage]).toEqual([
      Code.PermissionDenied,
      'access denied: access-control module "acm" denied it',
    ]);
    const failed = await connectError(resolver.getSecrets({ pattern: 'allowed/throw' }));
    expect(failed.code).toBe(Code.PermissionDenied);
    expect(failed.rawMessage).toMatch(
      /^access denied: access-control module "acm" failed: .*policy store is down/,
    );
    expect(asked).toEqual(['allowed/db']); // a denied call never reaches a provider
    expect((await authorizer.authorize({ patterns: ['allowed/a', 'allowed/b'] })).decision).toBe(
      resolverv1.Decision.ALLOW,
    );
    expect((await authorizer.authorize({ patterns: ['allowed/a', 'private/b'] })).decision).toBe(
      resolverv1.Decision.DENY,
    );
    // The module dies mid-call: that call is denied, not hung, and names the module.
    const dead = await connectError(resolver.getSecrets({ pattern: 'allowed/exit' }));
    expect(dead.code).toBe(Code.PermissionDenied);
    expect(dead.rawMessage).toMatch(/access-control module "acm" failed/);
  });
});
