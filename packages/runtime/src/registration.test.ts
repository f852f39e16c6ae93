// The registration endpoint (protocol.md §5.1, §4.1, §4.2), driven over a real yamux session pair:
// the engine side serves createRegistrationEndpoint, the plugin side calls RegisterPlugin.
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createMuxSession, createSessionTransport, serveConnect } from '@secrets-engine/ipc';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connectError, sleep, socketPair } from './__tests__/helpers.js';
import { createRegistrationEndpoint, type Registration, type RegistrationInit } from './registration.js';

async function connection(init: Partial<RegistrationInit> = {}) {
  const [pluginSocket, engineSocket] = await socketPair();
  const engineSide = createMuxSession(engineSocket, { role: 'server' });
  const pluginSide = createMuxSession(pluginSocket, { role: 'client' });
  onTestFinished(() => {
    pluginSide.abort();
    engineSide.abort();
  });
  const claimed: Registration[] = [];
  const endpoint = createRegistrationEndpoint({
    engineName: 'test-engine',
    engineVersion: 'v9.8.7',
    requestTimeoutMs: 1_500,
    claim: (r) => {
      claimed.push(r);
    },
    ...init,
  });
  serveConnect(engineSide, { routes: (router) => endpoint.routes(router) });
  let registered: Registration | undefined;
  void endpoint.registered.then((r) => {
    registered = r;
  });
  const transport = createSessionTransport(pluginSide);
  const heads = createClient(pluginsv1.RegisterService, transport);
  const old = createClient(resolverv1.RegisterService, transport);
  return {
    endpoint,
    claimed,
    registered: () => registered,
    /** HEAD registration as a secrets provider. */
    register: (name: string, version: string, pattern: string) =>
      heads.registerPlugin({ name, version, metadata: { case: 'secretsProvider', value: { pattern } } }),
    heads,
    old,
  };
}

describe('plugins.v1.RegisterService/RegisterPlugin (protocol.md §5.1)', () => {
  it('accepts a valid registration, claims it and answers with the engine name, version and request timeout', async () => {
    const c = await connection();
    const res = await c.register('vault', 'v1.2.3-rc.1', 'db/**');
    expect(res.engineName).toBe('test-engine');
    expect(res.engineVersion).toBe('v9.8.7');
    // request_timeout is a Duration (§4.1), always present.
    expect(res.requestTimeout).toBeDefined();
    expect(res.requestTimeout?.seconds).toBe(1n);
    expect(res.requestTimeout?.nanos).toBe(500_000_000);
    const expected = {
      name: 'vault',
      version: 'v1.2.3-rc.1',
      role: 'secrets-provider',
      pattern: 'db/**',
      protocol: 'plugins.v1',
    };
    expect(c.claimed).toEqual([expected]);
    await expect(c.endpoint.registered).resolves.toEqual(expected);
  });

  it('advertises a zero request timeout as a present, zero Duration (§4.4)', async () => {
    const c = await connection({ requestTimeoutMs: 0 });
    const res = await c.register('p', 'v1', '**');
    expect(res.requestTimeout).toBeDefined();
    expect(res.requestTimeout?.seconds).toBe(0n);
    expect(res.requestTimeout?.nanos).toBe(0);
  });

  it('accepts only one registration per connection: "cannot rerun registration"', async () => {
    const c = await connection();
    await c.register('p', 'v1', '**');
    const err = await connectError(c.register('p', 'v1', '**'));
    expect(err.rawMessage).toBe('cannot rerun registration');
    // The OLD route shares the one registration of the connection.
    const old = await connectError(c.old.registerPlugin({ name: 'p', version: 'v1', pattern: '**' }));
    expect(old.rawMessage).toBe('cannot rerun registration');
    expect(c.claimed).toHaveLength(1);
  });

  it('does not let a failed registration be retried on the same connection (Go Test_registration)', async () => {
    const c = await connection();
    await connectError(c.register('p', '', '**'));
    const err = await connectError(c.register('p', 'v1', '**'));
    expect(err.rawMessage).toBe('cannot rerun registration');
    expect(c.claimed).toHaveLength(0);
    expect(c.registered()).toBeUndefined();
  });

  it('keeps the launch name of an engine-launched plugin', async () => {
    const c = await connection({ expectedName: 'alpha' });
    const err = await connectError(c.register('beta', 'v1', '**'));
    expect(err.rawMessage).toContain('plugin name cannot be changed when launched by engine');
    expect(err.rawMessage).toContain('"alpha"');
    expect(err.rawMessage).toContain('"beta"');
    expect(c.claimed).toHaveLength(0);

    const ok = await connection({ expectedName: 'alpha' });
    await ok.register('alpha', 'v1', '**');
    expect(ok.claimed.map((r) => r.name)).toEqual(['alpha']);
  });

  it('refuses an empty name: "parsing name: empty name"', async () => {
    const c = await connection();
    const err = await connectError(c.register('', 'v1', '**'));
    expect(err.rawMessage).toBe('parsing name: empty name');
  });

  it.each([
    ['', 'empty version'],
    ['1.0.0', 'missing version prefix'],
    ['v01.0.0', 'invalid version'],
    ['v1.2-pre', 'invalid version'],
    ['vx', 'invalid version'],
  ])('refuses the version %j: %s', async (version, reason) => {
    const c = await connection();
    const err = await connectError(c.register('p', version, '**'));
    expect(err.rawMessage).toContain(reason);
    expect(err.rawMessage.startsWith('parsing version: ')).toBe(true);
    expect(c.claimed).toHaveLength(0);
  });

  it.each(['v1', 'v1.0', 'v7', 'v1.2.3-rc.1', 'v1.2.3+build.5'])(
    'accepts the version %j',
    async (version) => {
      const c = await connection();
      await c.register('p', version, '**');
      expect(c.claimed.map((r) => r.version)).toEqual([version]);
    },
  );

  it.each(['*a*', 'a*a', '***', '/foo', 'foo//bar', ''])(
    'refuses the pattern %j with invalid_argument "invalid pattern"',
    async (pattern) => {
      const c = await connection();
      const err = await connectError(c.register('p', 'v1', pattern));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toContain('invalid pattern');
      expect(c.claimed).toHaveLength(0);
    },
  );

  it('refuses a secrets provider without a pattern (no metadata) with invalid_argument', async () => {
    const c = await connection();
    const err = await connectError(c.heads.registerPlugin({ name: 'p', version: 'v1' }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain('invalid pattern');
  });

  it('validates in Go order: launch name, then name, then version, then pattern', async () => {
    const launched = await connection({ expectedName: 'alpha' });
    expect((await connectError(launched.register('', '', '*a*'))).rawMessage).toContain(
      'plugin name cannot be changed',
    );
    const name = await connection();
    expect((await connectError(name.register('', '', '*a*'))).rawMessage).toBe('parsing name: empty name');
    const version = await connection();
    expect((await connectError(version.register('p', '', '*a*'))).rawMessage).toContain('empty version');
    const pattern = await connection();
    expect((await connectError(pattern.register('p', 'v1', '*a*'))).code).toBe(Code.InvalidArgument);
  });

  it('accepts an access-control module: no pattern, role access-control (§4.2, §10.1)', async () => {
    const c = await connection();
    const res = await c.heads.registerPlugin({
      name: 'acm',
      version: 'v1',
      metadata: { case: 'accessControlModule', value: {} },
    });
    expect(res.engineName).toBe('test-engine');
    const expected = { name: 'acm', version: 'v1', role: 'access-control', protocol: 'plugins.v1' };
    expect(c.claimed).toEqual([expected]);
    await expect(c.endpoint.registered).resolves.toEqual(expected);
  });

  it('validates an access-control module in Go order: launch name, name, version', async () => {
    const acm = (name: string, version: string) => ({
      name,
      version,
      metadata: { case: 'accessControlModule' as const, value: {} },
    });
    const launched = await connection({ expectedName: 'alpha' });
    expect((await connectError(launched.heads.registerPlugin(acm('beta', '')))).rawMessage).toContain(
      'plugin name cannot be changed',
    );
    const name = await connection();
    expect((await connectError(name.heads.registerPlugin(acm('', '')))).rawMessage).toBe(
      'parsing name: empty name',
    );
    const version = await connection();
    const err = await connectError(version.heads.registerPlugin(acm('acm', '1.0')));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain('missing version prefix');
    const dup = await connection({
      claim: () => {
        throw new ConnectError('plugin "acm" already exists', Code.AlreadyExists);
      },
    });
    expect((await connectError(dup.heads.registerPlugin(acm('acm', 'v1')))).code).toBe(Code.AlreadyExists);
  });

  it('refuses a duplicate name in the RegisterPlugin response itself (already_exists)', async () => {
    const c = await connection({
      claim: (r) => {
        throw new ConnectError(`plugin ${JSON.stringify(r.name)} already exists`, Code.AlreadyExists);
      },
    });
    const err = await connectError(c.register('dup', 'v1', '**'));
    expect(err.code).toBe(Code.AlreadyExists);
    expect(err.rawMessage).toBe('plugin "dup" already exists');
    await sleep(20);
    expect(c.registered()).toBeUndefined();
  });
});

describe('OLD resolver.v1.RegisterService/RegisterPlugin (protocol.md §4.1)', () => {
  it('registers with the same response and records the OLD schema', async () => {
    const c = await connection();
    const res = await c.old.registerPlugin({ name: 'legacy', version: 'v0.0.1', pattern: 'a/*' });
    expect(res.engineName).toBe('test-engine');
    expect(res.engineVersion).toBe('v9.8.7');
    expect(res.requestTimeout?.seconds).toBe(1n);
    expect(res.requestTimeout?.nanos).toBe(500_000_000);
    expect(await c.endpoint.registered).toEqual({
      name: 'legacy',
      version: 'v0.0.1',
      role: 'secrets-provider',
      pattern: 'a/*',
      protocol: 'resolver.v1',
    });
  });

  it('validates the same way', async () => {
    const cases: [Partial<{ name: string; version: string; pattern: string }>, string, Code?][] = [
      [{ name: '' }, 'parsing name: empty name'],
      [{ version: '' }, 'empty version'],
      [{ version: '1' }, 'missing version prefix'],
      [{ version: 'v1.02' }, 'invalid version'],
      [{ pattern: 'a*a' }, 'invalid pattern', Code.InvalidArgument],
      [{ pattern: '' }, 'invalid pattern', Code.InvalidArgument],
    ];
    for (const [override, message, code] of cases) {
      const c = await connection();
      const err = await connectError(
        c.old.registerPlugin({ name: 'p', version: 'v1', pattern: '**', ...override }),
      );
      expect(err.rawMessage).toContain(message);
      if (code !== undefined) expect(err.code).toBe(code);
    }
    const launched = await connection({ expectedName: 'alpha' });
    const err = await connectError(
      launched.old.registerPlugin({ name: 'beta', version: 'v1', pattern: '**' }),
    );
    expect(err.rawMessage).toContain('plugin name cannot be changed when launched by engine');
    const dup = await connection({
      claim: () => {
        throw new ConnectError('plugin "p" already exists', Code.AlreadyExists);
      },
    });
    const dupErr = await connectError(dup.old.registerPlugin({ name: 'p', version: 'v1', pattern: '**' }));
    expect(dupErr.code).toBe(Code.AlreadyExists);
  });

  it('allows one registration per connection across both schemas', async () => {
    const c = await connection();
    await c.old.registerPlugin({ name: 'p', version: 'v1', pattern: '**' });
    expect((await connectError(c.register('p', 'v1', '**'))).rawMessage).toBe('cannot rerun registration');
  });
});
