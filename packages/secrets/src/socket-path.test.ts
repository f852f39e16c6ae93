import { describe, expect, it } from 'vitest';
import { dialFailureReason, isAbstractSocketPath, toNetPath } from './internal.js';

class Unsupported extends Error {
  override name = 'Unsupported';
}
const unsupported = (m: string) => new Unsupported(m);

describe('engine socket addresses (protocol.md §3.1)', () => {
  it('maps @name to a leading NUL on Linux and leaves file paths alone', () => {
    expect(isAbstractSocketPath('@docker-secrets-engine/1000/daemon.sock')).toBe(true);
    expect(isAbstractSocketPath('/run/user/1000/secrets-engine/engine.sock')).toBe(false);
    expect(toNetPath('@docker-secrets-engine/1000/daemon.sock', unsupported, 'linux')).toBe(
      '\0docker-secrets-engine/1000/daemon.sock',
    );
    expect(toNetPath('/tmp/engine.sock', unsupported, 'darwin')).toBe('/tmp/engine.sock');
  });

  it("an abstract name off Linux is the caller's error, naming the path and the platform", () => {
    expect(() => toNetPath('@x', unsupported, 'darwin')).toThrow(Unsupported);
    expect(() => toNetPath('@x', unsupported, 'darwin')).toThrow(
      'abstract socket @x is only supported on Linux (this is darwin)',
    );
  });

  it('dial failures in one wording, found through causes, only for connect(2)', () => {
    const errno = (code: string, syscall?: string) => Object.assign(new Error(code), { code, syscall });
    expect(dialFailureReason(errno('ENOENT', 'connect'))).toBe('no such socket (is the engine running?)');
    expect(dialFailureReason(new Error('fetch failed', { cause: errno('ECONNREFUSED') }))).toBe(
      'connection refused (is the engine running?)',
    );
    expect(dialFailureReason(errno('EACCES', 'connect'))).toBe('permission denied');
    expect(dialFailureReason(errno('ENOENT', 'open'))).toBeUndefined();
    expect(dialFailureReason(errno('ETIMEDOUT', 'connect'))).toBeUndefined();
    expect(dialFailureReason('not an error')).toBeUndefined();
  });
});
