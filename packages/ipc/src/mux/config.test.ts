// MuxSessionInit is validated before the socket is touched (issue 10 point 8).
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SessionConfigError } from '../errors.js';
import { createMuxSession, type MuxSessionInit } from './session.js';

function idle(): Duplex {
  return new Duplex({
    read() {},
    write(_c, _e, cb) {
      cb();
    },
  });
}

describe('createMuxSession options', () => {
  it.each([
    [{ maxFrameSize: Number.NaN }, 'maxFrameSize must be an integer from 1 to 16777216, got NaN'],
    [{ maxFrameSize: 0 }, 'maxFrameSize must be an integer from 1 to 16777216, got 0'],
    [{ maxFrameSize: '262144' }, 'maxFrameSize must be an integer from 1 to 16777216, got "262144"'],
    [
      { maxStreamWindowSize: 1024 },
      'maxStreamWindowSize must be an integer from 262144 to 2147483647, got 1024',
    ],
    [{ keepAliveIntervalMs: -1 }, 'keepAliveIntervalMs must be a number of ms from 1 to 2147483647, got -1'],
    [{ maxPendingOpens: 1.5 }, 'maxPendingOpens must be an integer from 1'],
    [
      { closeTimeoutMs: Number.POSITIVE_INFINITY },
      'closeTimeoutMs must be a number of ms from 0 to 2147483647, got Infinity',
    ],
    [{ batchWrites: 'no' }, 'batchWrites must be true or false, got "no"'],
    [{ role: 'plugin' }, 'role must be "client" (a plugin) or "server" (the engine), got "plugin"'],
  ])('%o is refused with a SessionConfigError naming the option', (bad, message) => {
    const socket = idle();
    const init = { role: 'client', ...bad } as unknown as MuxSessionInit;
    expect(() => createMuxSession(socket, init)).toThrow(SessionConfigError);
    expect(() => createMuxSession(socket, init)).toThrow(message);
    expect(socket.destroyed).toBe(false); // refused before the session took the socket
    socket.destroy();
  });

  it('defaults and in-range values are accepted', async () => {
    const s = createMuxSession(idle(), {
      role: 'server',
      maxFrameSize: 16 * 1024,
      batchWrites: false,
      closeTimeoutMs: 0.5,
    });
    await s.close({ timeoutMs: 10 });
  });
});
