// Docker's own engine and a Docker-SDK plugin for the end-to-end bench, built from a LOCAL snapshot
// of Docker's public repository (SECRETS_ENGINE_DOCKER_SNAPSHOT: a git directory), the way the
// interop docker tier builds them (tests/interop/support/docker-snapshot.ts, the method in
// tests/interop/README.md): the tree fa7ff078 (the last with engine/) is extracted with
// `git archive | tar -x` into a temp folder, our two programs (tests/interop/go/docker-engine, a
// main that only calls Docker's engine.Run, and tests/interop/go/plugin-old, a plugin on Docker's
// SDK v0.0.21) become workspace modules of it, and both are built offline from its vendor/ folder.
// Nothing of Docker's is kept: the tree is removed once the binaries are built.
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const INTEROP_GO = join(HERE, '..', '..', '..', 'tests', 'interop', 'go');
const TREE = 'fa7ff07886bb9fed7491f5a29ceaf3649c1448b8';

export interface DockerBuild {
  engine: string;
  plugin: string;
  what: string;
}

export function buildDockerSetup(go: string, snapshot: string, outDir: string): DockerBuild {
  const gitDir = existsSync(join(snapshot, '.git')) ? join(snapshot, '.git') : snapshot;
  const fail = (what: string, out: string): never => {
    throw new Error(`e2e docker setup: ${what}: ${out}`);
  };
  const check = spawnSync('git', ['--git-dir', gitDir, 'cat-file', '-e', `${TREE}^{commit}`], {
    encoding: 'utf8',
  });
  if (check.status !== 0) {
    fail(
      `SECRETS_ENGINE_DOCKER_SNAPSHOT=${snapshot} is not a git directory of docker/secrets-engine holding ${TREE}`,
      check.stderr,
    );
  }
  const tree = join(outDir, 'tree');
  mkdirSync(tree, { recursive: true });
  try {
    const x = spawnSync(
      'sh',
      ['-c', 'git --git-dir="$1" archive --format=tar "$2" | tar -x -C "$3"', 'x', gitDir, TREE, tree],
      {
        encoding: 'utf8',
        timeout: 5 * 60_000,
      },
    );
    if (x.status !== 0 || !existsSync(join(tree, 'go.work'))) fail(`extracting ${TREE}`, x.stderr);
    const goVersion = /^go\s+(\S+)/m.exec(readFileSync(join(tree, 'go.work'), 'utf8'))?.[1] ?? '1.25.0';
    const env = {
      ...process.env,
      GOWORK: join(tree, 'go.work'),
      GOFLAGS: '-mod=vendor',
      GOPROXY: 'off',
      GOTOOLCHAIN: 'local',
    };
    const out: Record<string, string> = {};
    for (const name of ['docker-engine', 'plugin-old']) {
      const dir = join(tree, 'interop', name);
      mkdirSync(dir, { recursive: true });
      for (const f of readdirSync(join(INTEROP_GO, name)))
        if (f.endsWith('.go')) cpSync(join(INTEROP_GO, name, f), join(dir, f));
      writeFileSync(join(dir, 'go.mod'), `module secrets-engine-interop/${name}\n\ngo ${goVersion}\n`);
      appendFileSync(join(tree, 'go.work'), `\nuse ./interop/${name}\n`);
      out[name] = join(outDir, name);
      const b = spawnSync(go, ['build', '-trimpath', '-o', out[name]!, '.'], {
        cwd: dir,
        env,
        encoding: 'utf8',
        timeout: 15 * 60_000,
      });
      if (b.status !== 0) fail(`go build of ${name}`, `${b.stdout}${b.stderr}`);
    }
    return {
      engine: out['docker-engine']!,
      plugin: out['plugin-old']!,
      what: `${TREE.slice(0, 8)} (engine/, plugin/ = v0.0.21)`,
    };
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}
