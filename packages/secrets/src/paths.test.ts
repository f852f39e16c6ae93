import { describe, expect, it } from 'vitest';
import { defaultSocketPath } from './paths.js';

describe('defaultSocketPath', () => {
  it('SECRETS_ENGINE_SOCKET wins', () => {
    expect(
      defaultSocketPath({ SECRETS_ENGINE_SOCKET: '/x/y.sock', XDG_RUNTIME_DIR: '/run/user/1' }, 'linux'),
    ).toBe('/x/y.sock');
  });
  it('then XDG_RUNTIME_DIR on Linux', () => {
    expect(defaultSocketPath({ XDG_RUNTIME_DIR: '/run/user/1', HOME: '/h' }, 'linux')).toBe(
      '/run/user/1/secrets-engine/engine.sock',
    );
  });
  it('then a folder of the uid in the temporary directory, never the shared directory itself', () => {
    expect(defaultSocketPath({ HOME: '/h' }, 'linux', 1000)).toBe('/tmp/secrets-engine-1000/engine.sock');
    expect(defaultSocketPath({}, 'linux', 0)).toBe('/tmp/secrets-engine-0/engine.sock');
    expect(defaultSocketPath({ TMPDIR: '/var/tmp/' }, 'freebsd', 1001)).toBe(
      '/var/tmp/secrets-engine-1001/engine.sock',
    );
    // macOS has no XDG_RUNTIME_DIR; its TMPDIR is per-user already, and ends in `/`.
    expect(
      defaultSocketPath({ HOME: '/h', XDG_RUNTIME_DIR: '/r', TMPDIR: '/var/folders/x/T/' }, 'darwin', 501),
    ).toBe('/var/folders/x/T/secrets-engine-501/engine.sock');
    expect(defaultSocketPath({ TMPDIR: '' }, 'linux', 7)).toBe('/tmp/secrets-engine-7/engine.sock');
    // This process's uid by default.
    if (process.getuid !== undefined) {
      expect(defaultSocketPath({}, 'linux')).toBe(`/tmp/secrets-engine-${process.getuid()}/engine.sock`);
    }
  });

  it('without a uid to name the folder by, refuses rather than share one', () => {
    expect(() => defaultSocketPath({}, 'linux', Number.NaN)).toThrow(
      /no uid on linux to name a private socket folder .*; set SECRETS_ENGINE_SOCKET or XDG_RUNTIME_DIR/,
    );
  });

  it('Windows: the local application data folder', () => {
    expect(defaultSocketPath({ LOCALAPPDATA: 'C:\\Users\\me\\AppData\\Local' }, 'win32')).toBe(
      'C:\\Users\\me\\AppData\\Local\\secrets-engine\\engine.sock',
    );
    expect(defaultSocketPath({ USERPROFILE: 'C:\\Users\\me' }, 'win32')).toBe(
      'C:\\Users\\me\\AppData\\Local\\secrets-engine\\engine.sock',
    );
  });
});
