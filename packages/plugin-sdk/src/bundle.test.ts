// The published main entry is one esbuild bundle (scripts/bundle.mjs, decisions.md "plugin-sdk: a
// bundled main entry", "the whole SDK in one file"): same exports as the tsc output, nothing
// imported but Node's built-ins, its ConnectError/Code interchangeable with @connectrpc/connect's.
// Spawned plugins of the other tests (fixtures/provider.mjs) import it by the package's name.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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

  it("has its own ConnectError and Code that interoperate with @connectrpc/connect's both ways", async () => {
    const bundle = await import(bundleUrl.href);
    expect(bundle.ConnectError).not.toBe(connect.ConnectError); // a copy, bundled
    // Code is a numeric enum: the same values whichever copy it comes from.
    expect({ ...bundle.Code }).toEqual({ ...connect.Code });
    const ours = new bundle.ConnectError('x', bundle.Code.NotFound);
    const theirs = new connect.ConnectError('y', connect.Code.PermissionDenied);
    // connect's Symbol.hasInstance checks the shape, so instanceof works across copies…
    expect(ours).toBeInstanceOf(connect.ConnectError);
    expect(theirs).toBeInstanceOf(bundle.ConnectError);
    // …and from() keeps the error (and its code) instead of wrapping it as unknown.
    expect(connect.ConnectError.from(ours)).toBe(ours);
    expect(bundle.ConnectError.from(theirs)).toBe(theirs);
    expect(bundle.ConnectError.from(theirs).code).toBe(connect.Code.PermissionDenied);
  });

  it('imports nothing but Node built-ins and its own chunks; connect-node, for the stock paths, only on demand', () => {
    const files = [
      fileURLToPath(bundleUrl),
      ...readdirSync(new URL('../dist/chunks/', import.meta.url)).map((f) =>
        fileURLToPath(new URL(`../dist/chunks/${f}`, import.meta.url)),
      ),
    ];
    const all = files.map((f) => readFileSync(f, 'utf8'));
    for (const code of all) {
      for (const m of code.matchAll(/\bfrom\s*"([^"]+)"/g))
        expect(m[1]).toMatch(/^(node:[a-z0-9/_]+|\.\/[\w./-]+\.js)$/);
      expect(code).not.toContain('__require(');
    }
    const entry = all[0]!;
    // The entry loads no node:http, node:http2, node:https, node:crypto or node:child_process.
    for (const m of entry.matchAll(/\bfrom\s*"(node:[^"]+)"/g))
      expect(['node:http', 'node:http2', 'node:https', 'node:crypto', 'node:child_process']).not.toContain(
        m[1],
      );
    // connect-node is behind the one dynamic import, of a chunk of this bundle.
    expect([...entry.matchAll(/\bimport\("([^"]+)"\)/g)].map((m) => m[1])).toEqual([
      expect.stringMatching(/^\.\/chunks\/[\w-]+\.js$/),
    ]);
  });

  it('loads without undici: no Headers or ConnectError is made at import time', () => {
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(bundleUrl.href)}); console.log(process.moduleLoadList.filter((m) => m.includes('undici')).length)`,
      ],
      { encoding: 'utf8' },
    );
    expect(out.trim()).toBe('0');
  });
});
