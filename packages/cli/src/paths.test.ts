import { describe, expect, it } from 'vitest';
import { configDir, dataDir, defaultConfigPath, defaultPluginsDir } from './paths.js';

describe('XDG locations', () => {
  it('use the XDG variables when they are absolute paths', () => {
    const env = { HOME: '/home/u', XDG_CONFIG_HOME: '/c', XDG_DATA_HOME: '/d' };
    expect(defaultConfigPath(env)).toBe('/c/secrets-engine/config.json');
    expect(defaultPluginsDir(env)).toBe('/d/secrets-engine/plugins');
  });

  it('ignore unset, empty and relative XDG variables (the XDG spec) and fall back under $HOME', () => {
    for (const value of [undefined, '', 'relative/dir']) {
      const env = { HOME: '/home/u', XDG_CONFIG_HOME: value, XDG_DATA_HOME: value };
      expect(configDir(env)).toBe('/home/u/.config/secrets-engine');
      expect(dataDir(env)).toBe('/home/u/.local/share/secrets-engine');
    }
  });
});
