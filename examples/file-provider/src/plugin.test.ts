// The built executable (dist/file-provider.mjs, `pnpm build`), launched as an engine launches it.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPluginConformance } from '@secrets-engine/plugin-sdk/testing';
import { createEngine, type Logger } from '@secrets-engine/runtime';
import { afterAll, beforeAll, expect, it } from 'vitest';

const executable = fileURLToPath(new URL('../dist/file-provider.mjs', import.meta.url));
let dir: string;

beforeAll(() => {
  if (!existsSync(executable)) throw new Error(`${executable} is missing: run \`pnpm build\` first`);
  dir = mkdtempSync(join(tmpdir(), 'fp-plugin-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('passes the SDK conformance suite (config from $SECRETS_FILE, as pluginEnv gives it)', async () => {
  const file = join(dir, 'conformance.json');
  writeFileSync(
    file,
    JSON.stringify({ 'api-token': 'x', 'db/password': { value: 'y', metadata: { a: 'b' } } }),
  );
  const report = await checkPluginConformance({
    command: executable,
    env: { PATH: process.env.PATH ?? '', HOME: dir, SECRETS_FILE: file },
    found: ['file/**', 'file/db/*', 'file/api-token'],
    missing: 'file/nope/**',
  });
  expect(report.ok).toBe(true);
});

it('runs under the engine from a plugins folder, configured by <name>.json beside it', async () => {
  const plugins = join(dir, 'plugins');
  mkdirSync(plugins);
  // Installed as the README says: a symlink without extension, its config beside it (not
  // executable, so discovery skips it).
  symlinkSync(executable, join(plugins, 'home-secrets'));
  writeFileSync(join(plugins, 'home-secrets.json'), JSON.stringify({ file: 'home.env', pattern: 'home/**' }));
  writeFileSync(
    join(plugins, 'home.env'),
    'GITHUB_TOKEN=ghp_VALUE\nBROKEN LINE ghp_LEAK\nNPM_TOKEN=npm_VALUE\n',
  );
  const lines: string[] = [];
  const logger = (attributes: Record<string, unknown> = {}): Logger => ({
    debug: () => {},
    info: (m, a) => lines.push(`${m} ${JSON.stringify({ ...attributes, ...a })}`),
    warn: (m, a) => lines.push(`${m} ${JSON.stringify({ ...attributes, ...a })}`),
    error: (m, a) => lines.push(`${m} ${JSON.stringify({ ...attributes, ...a })}`),
    child: (a) => logger({ ...attributes, ...a }),
  });
  const engine = createEngine({
    socketPath: join(dir, 'engine.sock'),
    pluginsDir: plugins,
    externalPlugins: false,
    logger: logger(),
  });
  try {
    await engine.start();
    expect(engine.listPlugins().map((p) => [p.name, p.kind, p.status, p.pattern])).toEqual([
      ['home-secrets', 'launched', 'running', 'home/**'],
    ]);
    const secrets = await engine.getSecrets('home/*');
    expect(secrets.map((s) => [s.id, s.provider, s.revealText()]).sort()).toEqual([
      ['home/GITHUB_TOKEN', 'home-secrets', 'ghp_VALUE'],
    ]);
  } finally {
    await engine.close();
  }
  const output = lines.filter((l) => l.includes('"stream":"output"'));
  // parseEnv glued the malformed line and NPM_TOKEN into one key: reported once, by line, no value.
  expect(output.filter((l) => l.startsWith('warn: skipping entry'))).toEqual([
    expect.stringContaining('warn: skipping entry line 2: not a KEY=value line'),
  ]);
  expect(output.some((l) => l.includes(`source=${join(plugins, 'home-secrets.json')}`))).toBe(true);
  expect(lines.join('\n')).not.toMatch(/ghp_|npm_/);
});

it('without a configuration it exits with 2 and says what to set', async () => {
  const child = spawn(executable, [], { env: { PATH: process.env.PATH ?? '', HOME: dir }, stdio: 'pipe' });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  expect(code).toBe(2);
  expect(stderr).toContain('error: file-provider: no configuration: set $SECRETS_FILE');
  expect(stderr).toContain(join(dir, '.config', 'secrets-engine', 'file-provider.json'));
});
