// The shared setup of the pack-and-install tests: one scratch folder outside the workspace (so no
// workspace link can satisfy an import), every published package packed into it once, the local
// registry of the @secrets-engine scope, and npm projects installed from the tarballs. afterAll
// (or SIGINT/SIGTERM) kills every child still running and removes the scratch folder: no process
// and no file is left behind.
//
// @secrets-engine/* packages come only from the tarballs: the scope's registry is pointed away from
// the public one, so a dependency missing from a tarball set fails the install instead of silently
// coming from the public registry. (npm still asks the registry about a scoped dependency that a
// tarball on the command line satisfies; the scope's registry is a local server that answers 404
// at once, so that costs nothing.) Third-party dependencies come from the npm registry.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { closure, packAll, SCOPE } from './packing.js';
import { check, type Exit, killChildren, run } from './processes.js';

export interface ScratchProject {
  dir: string;
  /** The published packages installed (the closure of those asked for). */
  installed: string[];
}

export interface PackInstall {
  /** The scratch folder (outside the workspace); removed after the run. */
  work: string;
  /** The tarball of each published package, by folder name. */
  tarballs: Map<string, string>;
  /** `--@secrets-engine:registry=<the local 404 server>`. */
  noRegistry: string;
  /** Flags of every npm command: quiet, and the scope's registry. */
  npmFlags: string[];
  /** The tarballs of `pkgs` and of their @secrets-engine dependencies. */
  tarballsOf(pkgs: string[]): string[];
  /** A fresh npm project in the scratch folder with `pkgs` (and their closures) installed from tarballs. */
  scratchProject(name: string, pkgs: string[]): Promise<ScratchProject>;
  /** The runtime alone, installed once: scenario (b)'s project, also the engine of scenario (c). */
  runtimeProject(): Promise<ScratchProject>;
  /** The CLI installed globally into a scratch prefix, once: scenario (d), also used by (e). */
  cliInstall(): Promise<{ bin: string; count: number }>;
  /** Names of every package in `npm ls --all --json` of `dir`. */
  dependencyTree(dir: string): Promise<Set<string>>;
  /** Writes `source` to `dir/file` and runs it with node; throws unless it exits 0. */
  runNode(dir: string, file: string, source: string, what: string): Promise<Exit>;
}

/** The registry of the @secrets-engine scope: 404 for everything. */
async function startScopeRegistry(): Promise<Server> {
  const server = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Registers the hooks; the returned object is usable from the first test on. */
export function usePackInstall(): PackInstall {
  let registry: Server | undefined;
  let runtime: Promise<ScratchProject> | undefined;
  let cli: Promise<{ bin: string; count: number }> | undefined;

  const cleanup = () => {
    killChildren();
    registry?.close();
    registry?.closeAllConnections();
    if (ctx.work) rmSync(ctx.work, { recursive: true, force: true });
  };
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };

  const ctx: PackInstall = {
    work: '',
    tarballs: new Map(),
    noRegistry: '',
    npmFlags: [],
    tarballsOf(pkgs) {
      return [...new Set(pkgs.flatMap(closure))].map((p) => {
        const tarball = ctx.tarballs.get(p);
        if (!tarball) throw new Error(`no tarball of ${p}`);
        return tarball;
      });
    },
    async scratchProject(name, pkgs) {
      const dir = join(ctx.work, name);
      mkdirSync(dir);
      writeFileSync(
        join(dir, 'package.json'),
        `${JSON.stringify({ name: `scratch-${name}`, version: '0.0.0', private: true, type: 'module' }, null, 2)}\n`,
      );
      await check(`npm install (${name})`, 'npm', ['install', ...ctx.npmFlags, ...ctx.tarballsOf(pkgs)], {
        cwd: dir,
      });
      return { dir, installed: [...new Set(pkgs.flatMap(closure))] };
    },
    runtimeProject() {
      runtime ??= ctx.scratchProject('runtime', ['runtime']);
      return runtime;
    },
    cliInstall() {
      cli ??= (async () => {
        const prefix = join(ctx.work, 'cli-prefix');
        mkdirSync(prefix);
        const wanted = ctx.tarballsOf(['cli']);
        await check(
          'npm install -g',
          'npm',
          ['install', '-g', '--prefix', prefix, ...ctx.npmFlags, ...wanted],
          {
            cwd: prefix,
          },
        );
        const bin = join(prefix, 'bin', 'secrets-engine');
        if (!existsSync(bin)) throw new Error(`${bin} was not created`);
        return { bin, count: wanted.length };
      })();
      return cli;
    },
    async dependencyTree(dir) {
      const res = await run('npm', ['ls', '--all', '--json', ctx.noRegistry], { cwd: dir });
      if (res.code !== 0) throw new Error(`npm ls: exit ${res.code}\n${res.stdout}\n${res.stderr}`);
      type Deps = Record<string, { dependencies?: Deps }> | undefined;
      const names = new Set<string>();
      const walk = (deps: Deps) => {
        for (const [name, info] of Object.entries(deps ?? {})) {
          names.add(name);
          walk(info.dependencies);
        }
      };
      walk((JSON.parse(res.stdout) as { dependencies?: Deps }).dependencies);
      return names;
    },
    runNode(dir, file, source, what) {
      writeFileSync(join(dir, file), source);
      return check(what, process.execPath, [file], { cwd: dir, timeoutMs: 30_000 });
    },
  };

  beforeAll(async () => {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    ctx.work = mkdtempSync(join(tmpdir(), 'se-pack-install-'));
    registry = await startScopeRegistry();
    ctx.noRegistry = `--${SCOPE}:registry=http://127.0.0.1:${(registry.address() as AddressInfo).port}/`;
    ctx.npmFlags = ['--no-audit', '--no-fund', '--loglevel=error', '--no-update-notifier', ctx.noRegistry];
    const tarballDir = join(ctx.work, 'tarballs');
    mkdirSync(tarballDir);
    ctx.tarballs = await packAll(tarballDir);
  });

  afterAll(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cleanup();
  });

  return ctx;
}

/** Every @secrets-engine entry of `dir`'s package-lock.json that did not come from a local tarball. */
export function notFromTarballs(dir: string): string[] {
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, { resolved?: string }>;
  };
  return Object.entries(lock.packages ?? {})
    .filter(
      ([path, entry]) => path.includes(`node_modules/${SCOPE}/`) && !entry.resolved?.startsWith('file:'),
    )
    .map(([path, entry]) => `${path} (resolved: ${entry.resolved})`);
}

/** Those of the published packages `pkgs` that are installed in `dir/node_modules`. */
export const installedOf = (dir: string, pkgs: string[]): string[] =>
  pkgs.filter((p) => existsSync(join(dir, 'node_modules', SCOPE, p)));

/** The lines of a program's stdout. */
export const lines = (res: { stdout: string }): string[] => res.stdout.split('\n');
