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
  it('then the user cache dir, as Go os.UserCacheDir', () => {
    expect(defaultSocketPath({ HOME: '/h' }, 'linux')).toBe('/h/.cache/secrets-engine/engine.sock');
    expect(defaultSocketPath({ HOME: '/h', XDG_CACHE_HOME: '/c' }, 'linux')).toBe(
      '/c/secrets-engine/engine.sock',
    );
    expect(defaultSocketPath({ HOME: '/h', XDG_RUNTIME_DIR: '/r' }, 'darwin')).toBe(
      '/h/Library/Caches/secrets-engine/engine.sock',
    );
  });
});

describe('defaultSocketPath without a home', () => {
  it('falls back to the temporary directory, like Go', () => {
    expect(defaultSocketPath({}, 'linux')).toBe('/tmp/secrets-engine/engine.sock');
    expect(defaultSocketPath({ LOCALAPPDATA: 'C:\\Users\\me\\AppData\\Local' }, 'win32')).toBe(
      'C:\\Users\\me\\AppData\\Local\\secrets-engine\\engine.sock',
    );
  });
});
