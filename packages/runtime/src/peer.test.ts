// Caller identity from the kernel (protocol.md §10.1): a real Unix socket, peers in this process
// and in a child process.
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { tempDir } from './__tests__/helpers.js';
import { type PeerIdentity, peerReader, toRequester } from './peer.js';

async function acceptOne(connect: (path: string) => void): Promise<PeerIdentity> {
  const path = join(tempDir(), 'peer.sock');
  const read = peerReader();
  const server = createServer();
  onTestFinished(() => void server.close());
  const seen = new Promise<PeerIdentity>((resolve, reject) =>
    server.once('connection', (socket: Socket) => {
      try {
        resolve(read(socket));
      } catch (err) {
        reject(err);
      } finally {
        socket.destroy();
      }
    }),
  );
  await new Promise<void>((resolve) => server.listen(path, resolve));
  connect(path);
  return seen;
}

describe.skipIf(process.platform !== 'linux' && process.platform !== 'darwin')('peerReader', () => {
  it('a peer in this process: our pid, uid, gid, name and executable', async () => {
    const peer = await acceptOne((path) => createConnection(path).on('error', () => {}));
    expect(peer).toEqual({
      pid: process.pid,
      uid: process.getuid!(),
      gid: process.getgid!(),
      name: expect.any(String),
      executable: realpathSync(process.execPath),
    });
  });

  it('a peer in another process: its pid and binary, not ours', async () => {
    let child: ReturnType<typeof spawn> | undefined;
    const peer = await acceptOne((path) => {
      child = spawn(
        process.execPath,
        ['-e', `require('net').connect(${JSON.stringify(path)}).on('close', () => process.exit(0))`],
        { stdio: 'ignore' },
      );
    });
    onTestFinished(() => void child?.kill('SIGKILL'));
    expect(peer.pid).toBe(child!.pid);
    expect(peer.pid).not.toBe(process.pid);
    expect(peer.executable).toBe(realpathSync(process.execPath));
    expect(peer.uid).toBe(process.getuid!());
  });

  it('encodes the §10.1 Requester: pid, name, absolute path, this OS variant', () => {
    const r = toRequester({ pid: 42, uid: 1, gid: 1, name: 'app', executable: '/usr/bin/app' });
    expect([r.pid, r.name, r.absoluteBinaryPath, r.signingInfo.case]).toEqual([
      42,
      'app',
      '/usr/bin/app',
      process.platform === 'darwin' ? 'darwin' : 'linux',
    ]);
    expect(toRequester({ pid: 2 ** 31, uid: 1, gid: 1, name: '', executable: '' }).pid).toBe(0);
  });
});
