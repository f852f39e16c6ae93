// secrets-engine plugins install <package|tarball|folder> [--plugins-dir DIR] [--name NAME] [--bin BIN] [--force] [--json]
// secrets-engine plugins uninstall NAME [--plugins-dir DIR] [--json]
//
// Layout (the 2026-12-04 plugins install entry of docs/decisions.md): each installed plugin has
// its own npm prefix, DIR/.packages/NAME (package.json, package-lock.json, node_modules), and
// DIR/NAME is a relative symbolic link to the bin file of the package in it. Discovery skips folders, so .packages is never
// a plugin; the engine launches the link, and a pin hashes the file it resolves to.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  rmdir,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { type Logger, type PinUpdate, pinPlugin, unpinPlugin } from '@secrets-engine/runtime';
import { parsePluginName } from '@secrets-engine/secrets';
import { CliError, ExitCode, errorMessage, UsageError } from '../errors.js';
import type { Io } from '../io.js';
import { PROGRAM } from '../meta.js';
import { safeText } from '../text.js';

/** The hidden folder of the plugins folder that holds one npm prefix per installed plugin. */
export const PACKAGES_DIR = '.packages';
/** Stripped from a bin's name to make the default plugin name (`secrets-engine-plugin-env` → `env`). */
const BIN_PREFIX = 'secrets-engine-plugin-';
/** How many of npm's last lines of output a failure shows. */
const NPM_TAIL_LINES = 20;
/**
 * npm's flags. --install-links copies a folder instead of linking it (the plugin must not depend on
 * the folder it came from); --ignore-scripts runs no lifecycle script of the package or its
 * dependencies (a provider needs none; pnpm 10 does the same by default).
 */
const NPM_FLAGS = [
  '--omit=dev',
  '--no-audit',
  '--no-fund',
  '--no-update-notifier',
  '--ignore-scripts',
  '--install-links',
  '--save',
];
const RECONCILE = `a running engine picks this up when it reloads its plugins folder: kill -HUP <pid of '${PROGRAM} serve'>, or restart it`;

export interface InstallOptions {
  spec: string;
  pluginsDir: string;
  name: string | undefined;
  bin: string | undefined;
  force: boolean;
  json: boolean;
  logger: Logger;
}

/** A resolved spec: what npm is given, and what the user wrote, for messages. */
interface Spec {
  npm: string;
  kind: 'package' | 'tarball' | 'folder';
}

/**
 * A spec is a path (npm-package-arg's rule, simplified): it starts with `.`, `/` or `~/`, or ends
 * with .tgz, .tar.gz or .tar. Anything else is given to npm as a package spec (name, name@version,
 * name@tag, git or URL specs).
 */
async function resolveSpec(spec: string): Promise<Spec> {
  if (spec === '') throw new UsageError('plugins install: the package is empty', 'plugins');
  if (spec.startsWith('-')) {
    throw new UsageError(
      `plugins install: ${JSON.stringify(spec)} is not a package (it starts with -)`,
      'plugins',
    );
  }
  const pathLike =
    spec.startsWith('.') ||
    spec.startsWith('/') ||
    spec.startsWith('~/') ||
    /\.(tgz|tar\.gz|tar)$/.test(spec) ||
    spec.startsWith('file:');
  if (!pathLike) return { npm: spec, kind: 'package' };
  const raw = spec.startsWith('file:') ? spec.slice('file:'.length) : spec;
  const home = process.env.HOME ?? '';
  const path = resolve(raw.startsWith('~/') && home !== '' ? join(home, raw.slice(2)) : raw);
  let info: Stats;
  try {
    info = await stat(path);
  } catch (err) {
    throw new CliError(
      `plugins install: ${spec}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : errorMessage(err)} (expected a package name such as @secrets-engine/plugin-env, a tarball such as ./plugin.tgz, or a package folder)`,
      ExitCode.error,
      { cause: err },
    );
  }
  if (info.isDirectory()) {
    try {
      await stat(join(path, 'package.json'));
    } catch {
      throw new CliError(
        `plugins install: ${spec} is a folder with no package.json; a package folder has one (with a "bin")`,
        ExitCode.error,
      );
    }
    return { npm: path, kind: 'folder' };
  }
  if (!info.isFile())
    throw new CliError(`plugins install: ${spec} is not a file or a folder`, ExitCode.error);
  return { npm: path, kind: 'tarball' };
}

/** A plugin name we may install: a valid plugin name, not hidden, not ending in .exe. */
function checkName(name: string, where: string): string {
  try {
    parsePluginName(name);
  } catch (err) {
    throw new CliError(`${where}: not a plugin name: ${errorMessage(err)}`, ExitCode.usage, {
      hint: `Run '${PROGRAM} plugins --help' for usage.`,
    });
  }
  if (name.startsWith('.') || name.endsWith('.exe')) {
    throw new CliError(
      `${where}: ${JSON.stringify(name)} cannot be installed: a plugin name here may not start with "." (hidden files hold the installs) or end with ".exe"`,
      ExitCode.usage,
      { hint: `Run '${PROGRAM} plugins --help' for usage.` },
    );
  }
  return name;
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${path}: ${errorMessage(err)}`, ExitCode.error, { cause: err });
  }
}

/** Refuses to overwrite plugin `name` of `dir` (its executable or its install) unless `force`. */
async function checkClash(dir: string, name: string, force: boolean): Promise<boolean> {
  const exe = join(dir, name);
  const taken: string[] = [];
  for (const path of [exe, `${exe}.exe`, join(dir, PACKAGES_DIR, name)]) {
    const info = await lstatOrUndefined(path);
    if (info === undefined) continue;
    if (path !== join(dir, PACKAGES_DIR, name) && info.isDirectory()) {
      throw new CliError(
        `plugins install: ${path} is a folder; a plugin named ${JSON.stringify(name)} cannot be installed beside it (remove it, or choose another name with --name)`,
        ExitCode.error,
      );
    }
    taken.push(path);
  }
  if (taken.length === 0 || force) return taken.length > 0;
  throw new CliError(
    `plugins install: plugin ${JSON.stringify(name)} already exists in ${dir} (${taken.join(', ')}); pass --force to replace it, --name NAME to install it under another name, or run '${PROGRAM} plugins uninstall ${name}' first`,
    ExitCode.error,
  );
}

interface NpmResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs npm with stdin closed and its output captured; a missing npm is a CliError. */
function runNpm(args: string[], cwd: string, signal: AbortSignal): Promise<NpmResult> {
  return new Promise((done, fail) => {
    const child = spawn('npm', args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
      killSignal: 'SIGTERM',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout = (stdout + d).slice(-65536);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-65536);
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        fail(
          new CliError(
            `plugins install needs npm, and there is no npm on PATH (${process.env.PATH ?? ''}); install Node.js with npm, or put npm on PATH`,
            ExitCode.error,
            { cause: err },
          ),
        );
      } else if (err.name !== 'AbortError') {
        fail(new CliError(`cannot run npm: ${err.message}`, ExitCode.error, { cause: err }));
      }
    });
    child.once('close', (code, sig) => done({ code, signal: sig, stdout, stderr }));
  });
}

function tail(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
  return lines
    .slice(-NPM_TAIL_LINES)
    .map((l) => `  ${safeText(l)}`)
    .join('\n');
}

interface Installed {
  packageName: string;
  version: string;
  bins: Map<string, string>;
  packageDir: string;
}

/** The one package npm installed into `prefix`, and its bins (npm's normalization of "bin"). */
async function installedPackage(prefix: string, spec: string): Promise<Installed> {
  const root = JSON.parse(await readFile(join(prefix, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  const names = Object.keys(root.dependencies ?? {});
  if (names.length !== 1) {
    throw new CliError(
      `plugins install: npm installed ${names.length} packages from ${spec} (${names.join(', ')}); expected one`,
      ExitCode.error,
    );
  }
  const packageName = names[0]!;
  const packageDir = join(prefix, 'node_modules', ...packageName.split('/'));
  const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as {
    version?: unknown;
    bin?: unknown;
  };
  const bins = new Map<string, string>();
  if (typeof manifest.bin === 'string') {
    bins.set(packageName.split('/').pop()!, manifest.bin);
  } else if (typeof manifest.bin === 'object' && manifest.bin !== null) {
    for (const [bin, path] of Object.entries(manifest.bin as Record<string, unknown>)) {
      if (typeof path === 'string') bins.set(bin, path);
    }
  }
  return {
    packageName,
    version: typeof manifest.version === 'string' ? manifest.version : '',
    bins,
    packageDir,
  };
}

function pickBin(installed: Installed, wanted: string | undefined): [string, string] {
  const { packageName, bins } = installed;
  if (bins.size === 0) {
    throw new CliError(
      `plugins install: ${packageName} declares no executable (no "bin" in its package.json); a plugin package names its plugin executable in "bin", e.g. "bin": {"secrets-engine-plugin-vault": "./dist/main.mjs"}`,
      ExitCode.error,
    );
  }
  const list = [...bins.keys()].map((b) => JSON.stringify(b)).join(', ');
  if (wanted !== undefined) {
    const path = bins.get(wanted);
    if (path === undefined) {
      throw new CliError(
        `plugins install: ${packageName} has no bin ${JSON.stringify(wanted)}; its bins: ${list}`,
        ExitCode.error,
      );
    }
    return [wanted, path];
  }
  if (bins.size > 1) {
    throw new CliError(
      `plugins install: ${packageName} declares ${bins.size} executables (${list}); choose the plugin with --bin BIN`,
      ExitCode.error,
    );
  }
  return [...bins][0]!;
}

/** The bin's file inside the package folder (a path leaving it is refused), executable. */
async function binFile(installed: Installed, bin: string, path: string): Promise<string> {
  const file = resolve(installed.packageDir, path);
  const inside = relative(installed.packageDir, file);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
    throw new CliError(
      `plugins install: the bin ${JSON.stringify(bin)} of ${installed.packageName} (${path}) is outside its package`,
      ExitCode.error,
    );
  }
  let info: Stats;
  try {
    info = await stat(file);
  } catch (err) {
    throw new CliError(
      `plugins install: the bin ${JSON.stringify(bin)} of ${installed.packageName} is ${path}, which the package does not contain`,
      ExitCode.error,
      { cause: err },
    );
  }
  if (!info.isFile() || (info.mode & 0o111) === 0) {
    throw new CliError(
      `plugins install: the bin ${JSON.stringify(bin)} of ${installed.packageName} (${path}) is not an executable file`,
      ExitCode.error,
    );
  }
  return file;
}

const unique = () => `${process.pid}-${randomBytes(4).toString('hex')}`;

const STAGING_PREFIX = '.staging-';

/**
 * Staging folders of installs whose process is gone (killed with SIGKILL mid-install): named
 * `.staging-<pid>-XXXXXX`, removed when no process has that pid. One of a live install (this or
 * another one running at the same time) is left alone; a pid reused since is only a folder kept.
 */
async function removeAbandonedStaging(packages: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(packages);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^\.staging-(\d+)-/.exec(name);
    if (m === null || pidAlive(Number(m[1]))) continue;
    await rm(join(packages, name), { recursive: true, force: true });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes what a signal or an error left: the staging folder (npm killed first by `abort`). */
function interruptible<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return fn(controller.signal).finally(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });
}

export async function installPlugin(options: InstallOptions, io: Io): Promise<number> {
  const dir = resolve(options.pluginsDir);
  const spec = await resolveSpec(options.spec);
  if (options.name !== undefined) {
    checkName(options.name, '--name');
    await checkClash(dir, options.name, options.force);
  }
  const packages = join(dir, PACKAGES_DIR);
  let createdDir: string | undefined;
  try {
    createdDir = await mkdir(packages, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new CliError(`plugins install: cannot create ${packages}: ${errorMessage(err)}`, ExitCode.error, {
      cause: err,
    });
  }
  await removeAbandonedStaging(packages);
  const staging = await mkdtemp(join(packages, `${STAGING_PREFIX}${process.pid}-`));
  let committed = false;
  try {
    return await interruptible(async (signal) => {
      const manifest = { private: true, description: `${PROGRAM} plugins install: one plugin's npm prefix` };
      await writeJson(join(staging, 'package.json'), manifest);
      const res = await runNpm(['install', '--prefix', staging, ...NPM_FLAGS, spec.npm], staging, signal);
      if (signal.aborted) {
        throw new CliError('plugins install: interrupted; nothing was installed', ExitCode.interrupted);
      }
      if (res.code !== 0) {
        const why = res.signal === null ? `exit code ${res.code}` : `signal ${res.signal}`;
        const output = tail(res.stderr) || tail(res.stdout) || '  (npm printed nothing)';
        throw new CliError(
          `plugins install: npm install ${options.spec} failed (${why}); nothing was installed. npm's last lines:`,
          ExitCode.error,
          { hint: output },
        );
      }
      const installed = await installedPackage(staging, options.spec);
      const [bin, binPath] = pickBin(installed, options.bin);
      const name =
        options.name ??
        checkName(
          bin.startsWith(BIN_PREFIX) && bin !== BIN_PREFIX ? bin.slice(BIN_PREFIX.length) : bin,
          `the bin ${JSON.stringify(bin)}`,
        );
      const replaced = await checkClash(dir, name, options.force);
      await binFile(installed, bin, binPath);

      // Commit: the prefix into place, then the link over DIR/NAME (rename: atomic).
      const final = join(packages, name);
      const old = join(packages, `.old-${name}-${unique()}`);
      const hadOld = (await lstatOrUndefined(final)) !== undefined;
      if (hadOld) await rename(final, old);
      try {
        await rename(staging, final);
      } catch (err) {
        if (hadOld) await rename(old, final).catch(() => {});
        throw err;
      }
      committed = true;
      const target = relative(dir, resolve(final, relative(staging, installed.packageDir), binPath));
      const link = join(packages, `.link-${name}-${unique()}`);
      await symlink(target, link);
      await rename(link, join(dir, name));
      await rm(`${join(dir, name)}.exe`, { force: true });
      if (hadOld) await rm(old, { recursive: true, force: true });

      let pin: PinUpdate | undefined;
      let pinFailure: string | undefined;
      try {
        pin = await pinPlugin(dir, name, { logger: options.logger });
      } catch (err) {
        pinFailure = errorMessage(err);
      }
      const exe = join(dir, name);
      if (options.json) {
        io.out(
          `${JSON.stringify(
            {
              name,
              package: installed.packageName,
              version: installed.version,
              bin,
              path: exe,
              target,
              packageDir: final,
              replaced,
              pin:
                pin?.pin === undefined
                  ? null
                  : { pinFile: pin.pinFile, sha256: pin.pin.sha256, change: pin.pin.change },
            },
            null,
            2,
          )}\n`,
        );
      } else {
        const version = installed.version === '' ? '' : ` ${installed.version}`;
        io.out(
          `${replaced ? 'replaced' : 'installed'} plugin ${JSON.stringify(name)}: ${safeText(installed.packageName)}${safeText(version)}, its bin ${JSON.stringify(bin)}\n`,
        );
        io.out(`  ${exe} -> ${target}\n`);
        if (pin?.pin !== undefined) {
          io.out(
            `pinned ${JSON.stringify(name)} in ${pin.pinFile} (${pin.pin.sha256}, ${pin.pin.change}); the pin covers ${pin.pin.realPath} only, not the other files of ${final}\n`,
          );
        }
        io.out(`${RECONCILE}\n`);
      }
      if (pinFailure !== undefined) {
        throw new CliError(
          `plugins install: installed ${JSON.stringify(name)} but could not pin it: ${pinFailure}; the engine will not launch it until it is pinned ('${PROGRAM} plugins pin --plugins-dir ${dir}')`,
          ExitCode.error,
        );
      }
      return ExitCode.ok;
    });
  } finally {
    if (!committed) {
      // Nothing left behind: the staging folder, and the folders this install created if empty.
      await rm(staging, { recursive: true, force: true });
      await rmdir(packages).catch(() => {});
      if (createdDir !== undefined && createdDir !== packages) await rmdir(dir).catch(() => {});
    }
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o644 });
}

/** The names of the plugins installed in `dir` (the folders of DIR/.packages), sorted. */
export async function installedPlugins(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(join(dir, PACKAGES_DIR), { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

export async function uninstallPlugin(
  options: { name: string; pluginsDir: string; json: boolean },
  io: Io,
): Promise<number> {
  const dir = resolve(options.pluginsDir);
  const { name } = options;
  checkName(name, 'plugins uninstall');
  const packageDir = join(dir, PACKAGES_DIR, name);
  const exe = join(dir, name);
  if ((await lstatOrUndefined(packageDir)) === undefined) {
    const installed = await installedPlugins(dir);
    const list =
      installed.length === 0
        ? `no plugin is installed there`
        : `installed: ${installed.map((n) => JSON.stringify(n)).join(', ')}`;
    const byHand =
      (await lstatOrUndefined(exe)) === undefined
        ? ''
        : ` (${exe} exists, but 'plugins install' did not put it there: remove it yourself)`;
    throw new CliError(
      `plugins uninstall: no plugin ${JSON.stringify(name)} was installed in ${dir}${byHand}; ${list}`,
      ExitCode.notFound,
    );
  }
  const removed: string[] = [];
  const kept: string[] = [];
  const link = await lstatOrUndefined(exe);
  if (link !== undefined) {
    const ours = link.isSymbolicLink() && isInside(resolve(dir, await readlink(exe)), packageDir);
    if (ours) {
      await rm(exe);
      removed.push(exe);
    } else {
      kept.push(exe);
    }
  }
  await rm(packageDir, { recursive: true, force: true });
  removed.push(packageDir);
  // No leftover: the hidden folder goes with the last install.
  const packages = join(dir, PACKAGES_DIR);
  if ((await readdir(packages)).length === 0) await rm(packages, { recursive: true, force: true });
  let pin: PinUpdate | undefined;
  try {
    pin = await unpinPlugin(dir, name);
  } catch (err) {
    throw new CliError(
      `plugins uninstall: removed ${removed.join(' and ')}, but could not drop its pin: ${errorMessage(err)}`,
      ExitCode.error,
      { cause: err },
    );
  }
  const config = `${exe}.json`;
  const hasConfig = (await lstatOrUndefined(config)) !== undefined;
  if (options.json) {
    io.out(
      `${JSON.stringify({ name, removed, kept, pinFile: pin?.pinFile ?? null, config: hasConfig ? config : null }, null, 2)}\n`,
    );
    return ExitCode.ok;
  }
  io.out(`uninstalled plugin ${JSON.stringify(name)}: removed ${removed.join(' and ')}\n`);
  if (pin !== undefined) io.out(`dropped its pin from ${pin.pinFile}\n`);
  for (const path of kept) {
    io.out(
      `kept ${path}: it is not the link 'plugins install' made (remove it yourself if it is unwanted)\n`,
    );
  }
  if (hasConfig) io.out(`kept its configuration ${config}\n`);
  io.out(`${RECONCILE}\n`);
  return ExitCode.ok;
}

function isInside(path: string, folder: string): boolean {
  return path === folder || path.startsWith(`${folder}${sep}`);
}
