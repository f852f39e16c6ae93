// The engine's state folder (issue 13 items 1 and 2): each launched plugin's output file
// (`logs/<name>.log`, plugin-log.ts) and a record of each launched plugin's process group
// (`groups/<name>.json`), so that an engine started after a crashed one ends the groups it left.
//
// One state folder per engine socket: by default `<socket>.state` beside a filesystem socket
// (the socket's folder is the user's), or `<tmpdir>/secrets-engine-<uid>/<name>.state` for a Linux
// abstract socket. Every folder is created 0700 and checked: a symlink, another owner or a
// group/other-writable folder is refused, as for the socket (docs/security.md).
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  constants as fsConstants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '@secrets-engine/ipc';
import { isAbstractSocketPath } from '@secrets-engine/secrets/internal';
import { EngineConfigError } from './errors.js';

/** The default state folder of the engine serving `socketPath`. */
export function defaultStateDir(socketPath: string): string {
  if (isAbstractSocketPath(socketPath)) {
    const uid = process.getuid?.() ?? 'user';
    return join(tmpdir(), `secrets-engine-${uid}`, `${encodeURIComponent(socketPath.slice(1))}.state`);
  }
  return join(dirname(socketPath), `${basename(socketPath)}.state`);
}

/**
 * Creates `dir` (and its missing parents) 0700 and checks it is a real folder of ours that no one
 * else can write. Throws EngineConfigError naming the folder and what is wrong.
 */
export function ensurePrivateDir(dir: string, what = 'state folder'): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new EngineConfigError(`cannot create the ${what} ${dir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const st = lstatSync(dir);
  if (st.isSymbolicLink())
    throw new EngineConfigError(`the ${what} ${dir} is a symbolic link; a real folder is required`);
  if (!st.isDirectory()) throw new EngineConfigError(`the ${what} ${dir} is not a folder`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new EngineConfigError(
      `the ${what} ${dir} is owned by uid ${st.uid}, not by this user (uid ${uid}); remove it or choose another`,
    );
  }
  if ((st.mode & 0o022) !== 0) {
    throw new EngineConfigError(
      `the ${what} ${dir} is writable by others (mode 0${(st.mode & 0o777).toString(8)}); only 0700 or stricter is allowed`,
    );
  }
}

/** A launched plugin's process group, as recorded in `groups/<name>.json`. */
export interface GroupRecord {
  plugin: string;
  /** The plugin's pid, leader of its process group (pgid = pid). */
  pgid: number;
  /** The engine that launched it. */
  engine: number;
  /** Linux: the boot and the leader's start time (clock ticks since boot), to tell a reused pid. */
  bootId?: string;
  startTicks?: number;
  engineStartTicks?: number;
}

function groupsDir(stateDir: string): string {
  return join(stateDir, 'groups');
}

/** Records a launched plugin's process group (0600, replaced atomically). */
export function recordGroup(stateDir: string, plugin: string, pgid: number): void {
  const dir = groupsDir(stateDir);
  ensurePrivateDir(dir);
  const record: GroupRecord = { plugin, pgid, engine: process.pid };
  if (process.platform === 'linux') {
    const bootId = readBootId();
    const startTicks = procStat(pgid)?.startTicks;
    const engineStartTicks = procStat(process.pid)?.startTicks;
    if (bootId !== undefined && startTicks !== undefined)
      Object.assign(record, { bootId, startTicks, engineStartTicks });
  }
  const file = join(dir, `${encodeURIComponent(plugin)}.json`);
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
  try {
    writeSync(fd, JSON.stringify(record));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Removes the record once the group is reaped. */
export function forgetGroup(stateDir: string, plugin: string, pgid: number): void {
  const file = join(groupsDir(stateDir), `${encodeURIComponent(plugin)}.json`);
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as GroupRecord;
    // A newer attempt's record stays.
    if (record.pgid === pgid && record.engine === process.pid) rmSync(file, { force: true });
  } catch {
    // none, or unreadable: nothing to forget
  }
}

/**
 * Ends the process groups that an engine which is gone left behind (it was killed before it could
 * stop its plugins), then forgets them. A group is signalled only while it provably is the one
 * recorded: on Linux a member of ours with that process group that started no earlier than the
 * recorded leader, in the same boot. Elsewhere, where that cannot be checked, the record is only
 * dropped (our SDK ends its own group when it loses the engine). Returns the plugins whose
 * groups were ended.
 */
export function reapOrphanGroups(stateDir: string, logger: Logger): string[] {
  const dir = groupsDir(stateDir);
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const ended: string[] = [];
  for (const f of files) {
    const file = join(dir, f);
    let record: GroupRecord;
    try {
      const st = lstatSync(file);
      if (!st.isFile() || st.uid !== process.getuid?.()) continue;
      record = JSON.parse(readFileSync(file, 'utf8')) as GroupRecord;
      if (!Number.isInteger(record.pgid) || record.pgid <= 1 || !Number.isInteger(record.engine))
        throw new Error('bad record');
    } catch {
      logger.warn('ignoring an unreadable process-group record', { file });
      rmSync(file, { force: true });
      continue;
    }
    // Ours, or an engine that is still running (a state folder shared by mistake): never touched.
    if (record.engine === process.pid || engineAlive(record)) continue;
    const members = process.platform === 'linux' ? groupMembers(record) : [];
    if (members.length > 0) {
      try {
        process.kill(-record.pgid, 'SIGKILL');
      } catch {
        for (const pid of members) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
      ended.push(record.plugin);
      logger.warn('ended processes a previous engine left running', {
        plugin: record.plugin,
        pgid: record.pgid,
        processes: members.length,
      });
    }
    rmSync(file, { force: true });
  }
  return ended;
}

/** Whether the recording engine still runs (on Linux: the same process, not a reused pid). */
function engineAlive(record: GroupRecord): boolean {
  try {
    process.kill(record.engine, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform !== 'linux' || record.engineStartTicks === undefined) return true;
  return readBootId() === record.bootId && procStat(record.engine)?.startTicks === record.engineStartTicks;
}

/** Our processes in the recorded group that cannot predate it (Linux /proc). */
function groupMembers(record: GroupRecord): number[] {
  if (record.bootId === undefined || record.startTicks === undefined || readBootId() !== record.bootId)
    return [];
  const uid = process.getuid?.();
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    const stat = procStat(pid);
    if (stat === undefined || stat.pgrp !== record.pgid || stat.startTicks < record.startTicks) continue;
    try {
      if (statSync(`/proc/${pid}`).uid !== uid) continue;
    } catch {
      continue;
    }
    // The pgid was reused when a process with pid = pgid leads it and is not the recorded leader.
    if (pid === record.pgid && stat.startTicks !== record.startTicks) return [];
    out.push(pid);
  }
  return out;
}

function readBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Fields of /proc/<pid>/stat: after the command's closing parenthesis, state is field 3. */
function procStat(pid: number): { pgrp: number; startTicks: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): pgrp is field 5, starttime field 22.
  const pgrp = Number(rest[2]);
  const startTicks = Number(rest[19]);
  if (!Number.isInteger(pgrp) || !Number.isInteger(startTicks)) return undefined;
  return { pgrp, startTicks };
}

/** Opens `path` to append, 0600, refusing a symlink or a file that is not ours. */
export function openPrivateAppend(path: string): number {
  let fd: number;
  try {
    fd = openSync(
      path,
      fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW,
      0o600,
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP')
      throw new EngineConfigError(`${path} is a symbolic link; a regular file is required`, { cause: err });
    throw new EngineConfigError(`cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new EngineConfigError(`${path} is not a regular file`);
    if (st.uid !== process.getuid?.())
      throw new EngineConfigError(`${path} is owned by uid ${st.uid}, not by this user`);
    if ((st.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}
