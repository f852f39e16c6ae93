// The socket folder check (issue 12 item 5a): on an in-memory file system, so owners other than
// this process's can be set up without root, and on the real one for modes, symlinks and mkdir.
import * as nodeFs from 'node:fs';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UnsafeSocketPathError } from './errors.js';
import { checkSocketFolder, type SocketFolderFs, type SocketFolderStat } from './internal.js';

interface Node {
  uid: number;
  mode: number;
  link?: string;
}

/** A file system of folders and symbolic links, `mkdir` making them as `uid`. */
function memoryFs(
  nodes: Record<string, Node>,
  uid: number,
  hooks: { beforeMkdir?: (path: string) => void } = {},
) {
  const stat = (n: Node): SocketFolderStat => ({
    uid: n.uid,
    mode: (n.link === undefined ? 0o40000 : 0o120000) | n.mode,
    isDirectory: () => n.link === undefined,
    isSymbolicLink: () => n.link !== undefined,
  });
  const fs: SocketFolderFs & { made: string[] } = {
    made: [],
    lstatSync: (path) => (nodes[path] === undefined ? undefined : stat(nodes[path]!)),
    readlinkSync: (path) => nodes[path]!.link!,
    mkdirSync: (path, { mode }) => {
      hooks.beforeMkdir?.(path);
      if (nodes[path] !== undefined) throw Object.assign(new Error(`EEXIST: ${path}`), { code: 'EEXIST' });
      nodes[path] = { uid, mode: mode & 0o755 }; // a umask of 022
      fs.made.push(path);
    },
    chmodSync: (path, mode) => {
      nodes[path]!.mode = mode;
    },
  };
  return fs;
}

const root = (mode = 0o755): Node => ({ uid: 0, mode });
const linux = (nodes: Record<string, Node>, uid = 1000, hooks = {}) => ({
  fs: memoryFs(Object.assign(nodes, { '/': root() }), uid, hooks),
  uid,
  platform: 'linux',
});

function refusal(fn: () => unknown): UnsafeSocketPathError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UnsafeSocketPathError);
    return err as UnsafeSocketPathError;
  }
  throw new Error('expected a refusal');
}

describe('checkSocketFolder on the default locations', () => {
  it('creates $XDG_RUNTIME_DIR/secrets-engine 0700 under root-owned folders', () => {
    const env = linux({ '/run': root(), '/run/user': root(), '/run/user/1000': { uid: 1000, mode: 0o700 } });
    const status = checkSocketFolder('/run/user/1000/secrets-engine/engine.sock', { ...env, create: true });
    expect(status).toEqual({ status: 'safe', folder: '/run/user/1000/secrets-engine', mode: 0o700 });
    expect(env.fs.made).toEqual(['/run/user/1000/secrets-engine']);
  });

  it('creates /tmp/secrets-engine-<uid> 0700 in the sticky, world-writable /tmp', () => {
    const env = linux({ '/tmp': root(0o1777) });
    expect(checkSocketFolder('/tmp/secrets-engine-1000/engine.sock', { ...env, create: true })).toEqual({
      status: 'safe',
      folder: '/tmp/secrets-engine-1000',
      mode: 0o700,
    });
  });

  it('refuses /tmp/secrets-engine-<uid> pre-created by another uid, naming the owner and what is allowed', () => {
    const env = linux({ '/tmp': root(0o1777), '/tmp/secrets-engine-1000': { uid: 1001, mode: 0o777 } });
    const err = refusal(() =>
      checkSocketFolder('/tmp/secrets-engine-1000/engine.sock', { ...env, create: true }),
    );
    expect(err.message).toBe(
      "refusing the engine socket /tmp/secrets-engine-1000/engine.sock: /tmp/secrets-engine-1000 is owned by uid 1001; the socket's folder must be a folder (not a symbolic link) owned by uid 1000 or root and writable by no one else (mode 0700)",
    );
    expect(err).toMatchObject({
      socketPath: '/tmp/secrets-engine-1000/engine.sock',
      path: '/tmp/secrets-engine-1000',
      reason: 'is owned by uid 1001',
    });
    // Dialling refuses the same way: a client or plugin never connects there.
    refusal(() => checkSocketFolder('/tmp/secrets-engine-1000/engine.sock', { ...env, create: false }));
  });

  it('refuses a folder another uid creates between the check and mkdir (EEXIST)', () => {
    const nodes: Record<string, Node> = { '/tmp': root(0o1777) };
    const env = linux(nodes, 1000, {
      beforeMkdir: (path: string) => {
        nodes[path] = { uid: 1001, mode: 0o700 };
      },
    });
    const err = refusal(() =>
      checkSocketFolder('/tmp/secrets-engine-1000/engine.sock', { ...env, create: true }),
    );
    expect(err.reason).toBe('is owned by uid 1001');
  });

  it('refuses a symbolic link as the socket folder, whoever owns it, naming its target', () => {
    for (const uid of [1000, 1001, 0]) {
      const env = linux({
        '/tmp': root(0o1777),
        '/tmp/secrets-engine-1000': { uid, mode: 0o777, link: '/home/mallory/trap' },
        '/home': root(),
        '/home/mallory': { uid: 1001, mode: 0o755 },
        '/home/mallory/trap': { uid: 1001, mode: 0o700 },
      });
      const err = refusal(() =>
        checkSocketFolder('/tmp/secrets-engine-1000/engine.sock', { ...env, create: false }),
      );
      expect(err.reason).toBe('is a symbolic link to /home/mallory/trap');
    }
  });

  it('follows root-owned symbolic links above the folder (macOS /var -> private/var) and checks their targets', () => {
    const env = {
      ...linux(
        {
          '/var': { uid: 0, mode: 0o755, link: 'private/var' },
          '/private': root(),
          '/private/var': root(),
          '/private/var/folders': root(),
          '/private/var/folders/x': { uid: 501, mode: 0o755 },
          '/private/var/folders/x/T': { uid: 501, mode: 0o700 },
        },
        501,
      ),
      platform: 'darwin',
    };
    expect(
      checkSocketFolder('/var/folders/x/T/secrets-engine-501/engine.sock', { ...env, create: true }),
    ).toEqual({
      status: 'safe',
      folder: '/private/var/folders/x/T/secrets-engine-501',
      mode: 0o700,
    });
  });

  it('dialling creates nothing: a missing folder means no engine listens there', () => {
    const env = linux({ '/tmp': root(0o1777) });
    expect(checkSocketFolder('/tmp/secrets-engine-1000/engine.sock', { ...env, create: false })).toEqual({
      status: 'missing',
      missing: '/tmp/secrets-engine-1000',
    });
    expect(env.fs.made).toEqual([]);
  });
});

describe('checkSocketFolder on the folders above', () => {
  it('refuses a folder above that another uid owns, or a symbolic link above that another uid owns', () => {
    const owned = linux({ '/srv': { uid: 1001, mode: 0o755 }, '/srv/se': { uid: 1000, mode: 0o700 } });
    expect(refusal(() => checkSocketFolder('/srv/se/engine.sock', { ...owned, create: false })).message).toBe(
      'refusing the engine socket /srv/se/engine.sock: /srv is owned by uid 1001; every folder above the socket must be owned by uid 1000 or root and writable by no one else unless sticky (as /tmp), and every symbolic link above it owned by uid 1000 or root',
    );
    const link = linux({
      '/srv': { uid: 1001, mode: 0o777, link: '/opt' },
      '/opt': root(),
      '/opt/se': { uid: 1000, mode: 0o700 },
    });
    expect(refusal(() => checkSocketFolder('/srv/se/engine.sock', { ...link, create: false })).reason).toBe(
      'is a symbolic link (to /opt) owned by uid 1001',
    );
  });

  it('refuses a group- or world-writable folder above unless it is sticky', () => {
    for (const [mode, reason] of [
      [0o777, 'has mode 0777 (writable by its group and others, not sticky)'],
      [0o775, 'has mode 0775 (writable by its group, not sticky)'],
      [0o757, 'has mode 0757 (writable by others, not sticky)'],
    ] as const) {
      const env = linux({ '/shared': root(mode), '/shared/se': { uid: 1000, mode: 0o700 } });
      expect(
        refusal(() => checkSocketFolder('/shared/se/engine.sock', { ...env, create: false })).reason,
      ).toBe(reason);
    }
    const sticky = linux({ '/shared': root(0o1777), '/shared/se': { uid: 1000, mode: 0o700 } });
    expect(checkSocketFolder('/shared/se/engine.sock', { ...sticky, create: false }).status).toBe('safe');
  });

  it("refuses a socket folder writable by its group or others, sticky or not; one only readable is the user's choice", () => {
    for (const mode of [0o770, 0o1777, 0o702]) {
      const env = linux({ '/home': root(), '/home/u': { uid: 1000, mode } });
      expect(
        refusal(() => checkSocketFolder('/home/u/engine.sock', { ...env, create: false })).reason,
      ).toMatch(/^has mode \d+ \(writable by/);
    }
    const readable = linux({ '/home': root(), '/home/u': { uid: 1000, mode: 0o755 } });
    expect(checkSocketFolder('/home/u/engine.sock', { ...readable, create: false })).toEqual({
      status: 'safe',
      folder: '/home/u',
      mode: 0o755,
    });
  });

  it('resolves `.` and `..` on the real path, and gives up on a symbolic link loop', () => {
    const env = linux({
      '/a': root(),
      '/a/b': { uid: 1000, mode: 0o700 },
      '/l': { uid: 0, mode: 0o777, link: '/a/b' },
    });
    expect(checkSocketFolder('/l/../b/./engine.sock', { ...env, create: false })).toMatchObject({
      folder: '/a/b',
    });
    const loop = linux({
      '/x': { uid: 0, mode: 0o777, link: '/y' },
      '/y': { uid: 0, mode: 0o777, link: '/x' },
    });
    expect(refusal(() => checkSocketFolder('/x/d/engine.sock', { ...loop, create: false })).reason).toBe(
      'leads through more than 40 symbolic links',
    );
  });

  it('root trusts only root-owned folders, and names them so', () => {
    const env = linux({ '/tmp': root(0o1777), '/tmp/secrets-engine-0': { uid: 1001, mode: 0o700 } }, 0);
    expect(
      refusal(() => checkSocketFolder('/tmp/secrets-engine-0/engine.sock', { ...env, create: true })).message,
    ).toContain('owned by root and writable by no one else');
  });

  it('has nothing to check for an abstract socket or on Windows; refuses a relative path', () => {
    const env = linux({});
    expect(checkSocketFolder('@se/engine.sock', { ...env, create: true }).status).toBe('unchecked');
    expect(checkSocketFolder('C:\\x\\engine.sock', { ...env, platform: 'win32', create: true }).status).toBe(
      'unchecked',
    );
    expect(() => checkSocketFolder('se/engine.sock', { ...env, create: true })).toThrow(TypeError);
  });
});

describe('checkSocketFolder on the real file system', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the missing folders 0700 whatever the umask, and refuses a symlink or a loose folder', () => {
    dir = mkdtempSync(join(tmpdir(), 'se-folder-'));
    const old = process.umask(0o022);
    try {
      const status = checkSocketFolder(join(dir, 'a', 'b', 'engine.sock'), { fs: nodeFs, create: true });
      expect(status).toMatchObject({ status: 'safe', mode: 0o700 });
    } finally {
      process.umask(old);
    }
    expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'a', 'b')).mode & 0o777).toBe(0o700);

    symlinkSync(join(dir, 'a', 'b'), join(dir, 'link'));
    expect(
      refusal(() => checkSocketFolder(join(dir, 'link', 'engine.sock'), { fs: nodeFs, create: true })).reason,
    ).toBe(`is a symbolic link to ${join(dir, 'a', 'b')}`);
    mkdirSync(join(dir, 'loose'));
    chmodSync(join(dir, 'loose'), 0o777);
    expect(
      refusal(() => checkSocketFolder(join(dir, 'loose', 'engine.sock'), { fs: nodeFs, create: true }))
        .reason,
    ).toBe('has mode 0777 (writable by its group and others)');
    mkdirSync(join(dir, 'sticky'));
    chmodSync(join(dir, 'sticky'), 0o1777);
    expect(
      checkSocketFolder(join(dir, 'sticky', 'se', 'engine.sock'), { fs: nodeFs, create: true }).status,
    ).toBe('safe');
  });
});
