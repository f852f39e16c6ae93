// The published main entry is one esbuild bundle (scripts/bundle.mjs, decisions.md "plugin-sdk: a
// bundled main entry"): same exports as the tsc output, ConnectError/Code the very objects of
// @connectrpc/connect, and no copy of @connectrpc/connect or @bufbuild/protobuf inside it.
// Spawned plugins of the other tests (fixtures/provider.mjs) import it by the package's name.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as connect from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import * as src from './index.js';

const bundleUrl = new URL('../dist/index.bundle.js', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

describe('the bundled main entry', () => {
  it('is what the package exports for import, with the tsc types beside it', () => {
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', import: './dist/index.bundle.js' });
    expect(import.meta.resolve('@secrets-engine/plugin-sdk')).toBe(bundleUrl.href);
  });

  it('has exactly the exports of src/index.ts and of the unbundled tsc output', async () => {
    const bundle = await import(bundleUrl.href);
    const tsc = await import(new URL('../dist/index.js', import.meta.url).href);
    const names = Object.keys(src).sort();
    expect(names.length).toBeGreaterThan(20);
    expect(Object.keys(bundle).sort()).toEqual(names);
    expect(Object.keys(tsc).sort()).toEqual(names);
    for (const name of names)
      expect(typeof bundle[name], name).toBe(typeof (src as Record<string, unknown>)[name]);
  });

  it('re-exports the very ConnectError and Code of @connectrpc/connect (not a bundled copy)', async () => {
    const bundle = await import(bundleUrl.href);
    expect(bundle.ConnectError).toBe(connect.ConnectError);
    expect(bundle.Code).toBe(connect.Code);
    const err = new bundle.ConnectError('x', bundle.Code.NotFound);
    expect(Object.getPrototypeOf(err)).toBe(connect.ConnectError.prototype);
  });

  it('imports @connectrpc/connect and @bufbuild/protobuf from node_modules and bundles nothing of them', () => {
    const code = readFileSync(fileURLToPath(bundleUrl), 'utf8');
    const specifiers = new Set([...code.matchAll(/\bfrom\s+"([^"]+)"/g)].map((m) => m[1]!));
    const bare = [...specifiers].filter((s) => !s.startsWith('node:')).sort();
    expect(bare).toContain('@connectrpc/connect');
    expect(bare).toContain('@bufbuild/protobuf');
    for (const s of bare) expect(s).toMatch(/^(@connectrpc\/connect|@bufbuild\/protobuf)(\/[a-z0-9-]+)?$/);
    // connect's own error class and protobuf's registry are not in the bundle.
    expect(code).not.toMatch(/class ConnectError\b/);
    expect(code).not.toMatch(/function createFileRegistry\b/);
    expect(code).not.toContain('import(');
  });
});
