// Start time of the plugin, spawn → RegisterPlugin received, launched exactly as an engine does (fd 3
// + the launch variable): unbundled (tsc output loading its node_modules) vs the esbuild bundle.
// Usage: node scripts/measure-startup.mjs [runs=9]   (after `pnpm build`)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMuxSession, launchPlugin, serveConnect } from '@secrets-engine/ipc';
import { pluginsv1 } from '@secrets-engine/proto';

const NAME = 'exec-provider';
const runs = Number(process.argv[2] ?? 9);
const dist = new URL('../dist/', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), `${NAME}-measure-`));
// Registration does not run the helper: any path will do.
const env = { PATH: process.env.PATH ?? '', HOME: tmp, CREDENTIAL_HELPER: 'docker-credential-none' };

const variants = {
  'unbundled (node dist/main.js)': { command: process.execPath, args: [join(dist, 'main.js')] },
  [`bundled (node dist/${NAME}.mjs)`]: { command: process.execPath, args: [join(dist, `${NAME}.mjs`)] },
  [`bundled, as the engine runs it (dist/${NAME}.mjs, shebang)`]: {
    command: join(dist, `${NAME}.mjs`),
    args: [],
  },
};

async function once({ command, args }) {
  const started = process.hrtime.bigint();
  const { child, socket } = launchPlugin({ command, args, name: NAME, env, output: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const session = createMuxSession(socket, { role: 'server' });
  const registered = new Promise((resolve) => {
    serveConnect(session, {
      routes: (router) =>
        router.service(pluginsv1.RegisterService, {
          registerPlugin() {
            resolve(Number(process.hrtime.bigint() - started) / 1e6);
            return { engineName: 'measure', engineVersion: 'v0.0.0', requestTimeout: {} };
          },
        }),
    });
  });
  const timeout = new Promise((_, reject) =>
    setTimeout(() => reject(new Error('no registration in 10 s')), 10_000).unref(),
  );
  try {
    return await Promise.race([registered, timeout]);
  } finally {
    session.abort();
    child.kill('SIGKILL');
    await exited;
  }
}

const results = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
// One warm-up of each (page cache), then the variants interleaved so drift hits all alike.
for (const v of Object.values(variants)) await once(v);
for (let i = 0; i < runs; i++) {
  for (const [label, v] of Object.entries(variants)) results[label].push(await once(v));
}
rmSync(tmp, { recursive: true, force: true });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`${NAME}: spawn → RegisterPlugin received, ${runs} runs each (Node ${process.version})`);
for (const [label, xs] of Object.entries(results)) {
  console.log(
    `  ${label.padEnd(58)} median ${median(xs).toFixed(0).padStart(4)} ms  (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`,
  );
}
