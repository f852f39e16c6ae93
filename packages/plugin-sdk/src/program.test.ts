// The naming and configuration-lookup conventions of plugin programs (plugin author's guide, step 4).
import { describe, expect, it } from 'vitest';
import { configFileCandidates, executableName } from './index.js';

describe('executableName', () => {
  it('drops .js/.mjs/.cjs/.ts/.mts/.exe and keeps any other name whole', () => {
    expect(executableName('/p/file-provider.mjs')).toBe('file-provider');
    expect(executableName('/p/file-provider.js')).toBe('file-provider');
    expect(executableName('/p/file-provider.cjs')).toBe('file-provider');
    expect(executableName('/p/main.ts')).toBe('main');
    expect(executableName('/p/main.mts')).toBe('main');
    expect(executableName('C:/x/file-provider.exe')).toBe('file-provider');
    expect(executableName('/plugins/file-provider')).toBe('file-provider');
    expect(executableName('/plugins/work.secrets')).toBe('work.secrets');
    expect(executableName('vault')).toBe('vault');
  });
});

describe('configFileCandidates', () => {
  it('beside the executable first, then $XDG_CONFIG_HOME/secrets-engine', () => {
    expect(
      configFileCandidates({ executable: '/p/fp.mjs', env: { XDG_CONFIG_HOME: '/x', HOME: '/home/u' } }),
    ).toEqual(['/p/fp.json', '/x/secrets-engine/fp.json']);
  });

  it('XDG_CONFIG_HOME defaults to ~/.config; neither set gives only the file beside', () => {
    expect(configFileCandidates({ executable: '/p/fp', env: { HOME: '/home/u' } })).toEqual([
      '/p/fp.json',
      '/home/u/.config/secrets-engine/fp.json',
    ]);
    expect(configFileCandidates({ executable: '/p/fp', env: { XDG_CONFIG_HOME: '', HOME: '' } })).toEqual([
      '/p/fp.json',
    ]);
  });

  it('a relative executable is resolved from the working directory', () => {
    expect(configFileCandidates({ executable: 'plugins/fp', env: {} })).toEqual([
      `${process.cwd()}/plugins/fp.json`,
    ]);
  });

  it('no executable path, no candidates', () => {
    expect(configFileCandidates({ executable: undefined, env: { HOME: '/home/u' } })).toEqual([]);
    expect(configFileCandidates({ executable: '', env: { HOME: '/home/u' } })).toEqual([]);
  });

  it('defaults to process.argv[1] and process.env', () => {
    expect(configFileCandidates()).toEqual(
      configFileCandidates({ executable: process.argv[1], env: process.env }),
    );
    expect(configFileCandidates()[0]).toMatch(/\.json$/);
  });
});
