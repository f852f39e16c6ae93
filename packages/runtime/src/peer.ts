// Who is on the other end of an engine-socket connection, as the kernel reports it (protocol.md
// §10.1): pid, uid and gid from SO_PEERCRED (Linux) or LOCAL_PEERCRED + LOCAL_PEERPID (macOS),
// read once when the connection is accepted — never from anything the client sends — and the
// process's name and absolute binary path. Node has no API for the socket option, so it is one
// getsockopt(2) call through koffi (an FFI with prebuilt binaries: no compiler at install time;
// docs/decisions.md "Caller identity"). Everything platform-specific stays in this file.
import { readFileSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { basename } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { accesscontrolv1 } from '@secrets-engine/proto';

/** The peer of one connection. */
export interface PeerIdentity {
  pid: number | undefined;
  uid: number;
  gid: number | undefined;
  /** The process name (`comm` on Linux, the binary's file name on macOS); '' when unknown. */
  name: string;
  /** The process's executable, absolute; '' when the kernel does not tell us (another uid). */
  executable: string;
}

/** The kernel could not say who the peer is; the caller is refused (fail closed). */
export class PeerCredentialsError extends Error {
  static {
    PeerCredentialsError.prototype.name = 'PeerCredentialsError';
  }
}

export type PeerReader = (socket: Socket) => PeerIdentity;

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const SOL_LOCAL = 0;
const LOCAL_PEERCRED = 0x001;
const LOCAL_PEERPID = 0x002;

let reader: PeerReader | undefined;

/**
 * The peer reader of this platform (loaded once). Throws PeerCredentialsError where the kernel
 * call is not available (e.g. Windows), so an engine that must know its callers does not start.
 */
export function peerReader(): PeerReader {
  reader ??= load();
  return reader;
}

function load(): PeerReader {
  if (process.platform !== 'linux' && process.platform !== 'darwin') {
    throw new PeerCredentialsError(
      `caller identity is not supported on ${process.platform} (only Linux SO_PEERCRED and macOS LOCAL_PEERCRED)`,
    );
  }
  // biome-ignore lint/suspicious/noExplicitAny: koffi's typings are loaded lazily with it
  let koffi: any;
  try {
    koffi = createRequire(import.meta.url)('koffi');
  } catch (err) {
    throw new PeerCredentialsError(`cannot load koffi to read peer credentials: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const libc = koffi.load(process.platform === 'linux' ? 'libc.so.6' : 'libSystem.B.dylib');
  const getsockopt = libc.func(
    'int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *length)',
  );
  const option = (fd: number, level: number, name: number, size: number): Buffer => {
    const value = Buffer.alloc(size);
    const length = [size];
    if (getsockopt(fd, level, name, value, length) !== 0) {
      throw new PeerCredentialsError(
        `getsockopt(${level}, ${name}) failed on fd ${fd}: errno ${koffi.errno()}`,
      );
    }
    return value;
  };
  if (process.platform === 'linux') {
    return (socket) => {
      // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
      const cred = option(fdOf(socket), SOL_SOCKET, SO_PEERCRED, 12);
      const pid = cred.readInt32LE(0);
      return {
        pid: pid > 0 ? pid : undefined,
        uid: cred.readUInt32LE(4),
        gid: cred.readUInt32LE(8),
        name: pid > 0 ? readOr(() => readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd()) : '',
        executable: pid > 0 ? readOr(() => readlinkSync(`/proc/${pid}/exe`)) : '',
      };
    };
  }
  const libproc = koffi.load('/usr/lib/libproc.dylib');
  const procPidPath = libproc.func('int proc_pidpath(int pid, _Out_ uint8_t *buffer, uint32_t size)');
  return (socket) => {
    const fd = fdOf(socket);
    // struct xucred { u_int cr_version; uid_t cr_uid; short cr_ngroups; gid_t cr_groups[16]; }
    const cred = option(fd, SOL_LOCAL, LOCAL_PEERCRED, 76);
    const pid = option(fd, SOL_LOCAL, LOCAL_PEERPID, 4).readInt32LE(0);
    let executable = '';
    if (pid > 0) {
      const buffer = Buffer.alloc(4096);
      const n = procPidPath(pid, buffer, buffer.length);
      if (n > 0) executable = buffer.subarray(0, n).toString('utf8');
    }
    return {
      pid: pid > 0 ? pid : undefined,
      uid: cred.readUInt32LE(4),
      gid: cred.readInt16LE(8) > 0 ? cred.readUInt32LE(12) : undefined,
      name: executable === '' ? '' : basename(executable),
      executable,
    };
  };
}

function fdOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new PeerCredentialsError('the connection has no file descriptor to ask the kernel about');
  }
  return fd;
}

function readOr(read: () => string): string {
  try {
    return read();
  } catch {
    // another uid's /proc/<pid>/exe is not ours to read (unless we are root)
    return '';
  }
}

/** The §10.1 canonical wire form: pid only when in int32 range, this OS's signing variant. */
export function toRequester(peer: PeerIdentity): accesscontrolv1.Requester {
  return create(accesscontrolv1.RequesterSchema, {
    pid: peer.pid !== undefined && peer.pid <= 0x7fffffff ? peer.pid : 0,
    name: peer.name,
    absoluteBinaryPath: peer.executable,
    signingInfo:
      process.platform === 'darwin'
        ? { case: 'darwin', value: create(accesscontrolv1.DarwinSigningInfoSchema) }
        : { case: 'linux', value: create(accesscontrolv1.LinuxSigningInfoSchema) },
  });
}
