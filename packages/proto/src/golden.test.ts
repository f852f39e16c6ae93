// Golden bytes of protocol.md §4.3: the same registration in the OLD and the HEAD schema.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { pluginsv1, resolverv1 } from './index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('protocol.md §4.3 RegisterPluginRequest bytes', () => {
  it('OLD resolver.v1 form is 0a03666f6f 12027631 1a022a2a', () => {
    const msg = create(resolverv1.RegisterPluginRequestSchema, { name: 'foo', version: 'v1', pattern: '**' });
    expect(hex(toBinary(resolverv1.RegisterPluginRequestSchema, msg))).toBe(
      '0a03666f6f' + '12027631' + '1a022a2a',
    );
  });

  it('HEAD plugins.v1 form nests the pattern: 1a04 0a022a2a', () => {
    const msg = create(pluginsv1.RegisterPluginRequestSchema, {
      name: 'foo',
      version: 'v1',
      metadata: { case: 'secretsProvider', value: { pattern: '**' } },
    });
    expect(hex(toBinary(pluginsv1.RegisterPluginRequestSchema, msg))).toBe(
      '0a03666f6f' + '12027631' + '1a040a022a2a',
    );
  });

  it('HEAD access-control registration carries an empty field 4', () => {
    const msg = create(pluginsv1.RegisterPluginRequestSchema, {
      name: 'foo',
      version: 'v1',
      metadata: { case: 'accessControlModule', value: {} },
    });
    expect(hex(toBinary(pluginsv1.RegisterPluginRequestSchema, msg))).toBe(
      '0a03666f6f' + '12027631' + '2200',
    );
  });

  it('OLD bytes parsed with the HEAD schema garble field 3 (the documented incompatibility)', () => {
    const old = Buffer.from('0a03666f6f120276311a022a2a', 'hex');
    // '**' is parsed as a SecretsProvider message: 0x2a is field 5, wire type 2 - garbage.
    expect(() => fromBinary(pluginsv1.RegisterPluginRequestSchema, old)).toThrow();
  });
});

describe('protocol.md §4.4 encoding details', () => {
  it('edition 2023 explicit presence: empty strings set by a writer are sent', () => {
    const msg = create(resolverv1.GetSecretsRequestSchema, { pattern: '' });
    expect(hex(toBinary(resolverv1.GetSecretsRequestSchema, msg))).toBe('0a00');
  });

  it('a zero Duration request_timeout is sent as 1a00', () => {
    const msg = create(pluginsv1.RegisterPluginResponseSchema, {
      engineName: 'e',
      engineVersion: 'v1',
      requestTimeout: { seconds: 0n, nanos: 0 },
    });
    expect(hex(toBinary(pluginsv1.RegisterPluginResponseSchema, msg))).toBe('0a0165' + '12027631' + '1a00');
  });

  it('the Go zero time round-trips as seconds -62135596800', () => {
    const env = create(resolverv1.GetSecretsResponse_EnvelopeSchema, {
      id: 'a',
      resolvedAt: { seconds: -62135596800n, nanos: 0 },
    });
    const back = fromBinary(
      resolverv1.GetSecretsResponse_EnvelopeSchema,
      toBinary(resolverv1.GetSecretsResponse_EnvelopeSchema, env),
    );
    expect(back.resolvedAt?.seconds).toBe(-62135596800n);
  });
});

describe('routes (protocol.md §4.1, §4.2)', () => {
  it('services have the Go package paths', () => {
    // Built from the descriptors, so a renamed method fails here as well as a renamed service.
    const path = (m: { parent: { typeName: string }; name: string }) => `/${m.parent.typeName}/${m.name}`;
    expect(path(pluginsv1.RegisterService.method.registerPlugin)).toBe(
      '/plugins.v1.RegisterService/RegisterPlugin',
    );
    expect(path(pluginsv1.PluginService.method.shutdown)).toBe('/plugins.v1.PluginService/Shutdown');
    expect(path(resolverv1.RegisterService.method.registerPlugin)).toBe(
      '/resolver.v1.RegisterService/RegisterPlugin',
    );
    expect(path(resolverv1.ListService.method.listPlugins)).toBe('/resolver.v1.ListService/ListPlugins');
    expect(path(resolverv1.PluginService.method.shutdown)).toBe('/resolver.v1.PluginService/Shutdown');
    expect(path(resolverv1.ResolverService.method.getSecrets)).toBe(
      '/resolver.v1.ResolverService/GetSecrets',
    );
    expect(pluginsv1.PluginManagementService.typeName).toBe('plugins.v1.PluginManagementService');
    expect(Object.keys(pluginsv1.PluginManagementService.method).sort()).toEqual([
      'disablePlugin',
      'enablePlugin',
      'listPlugins',
    ]);
  });
});
