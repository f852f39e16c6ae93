import { describe, expect, it } from 'vitest';
import { keyToPath, mapKeys } from './mapping.js';

describe('keyToPath', () => {
  it('keeps keys that are IDs, drops https:// and trailing slashes, refuses the rest', () => {
    expect(keyToPath('ghcr.io')).toBe('ghcr.io');
    expect(keyToPath('registry.example.com:5000')).toBe('registry.example.com:5000');
    expect(keyToPath('registry.example.com/team/repo')).toBe('registry.example.com/team/repo');
    expect(keyToPath('https://index.docker.io/v1/')).toBe('index.docker.io/v1');
    expect(keyToPath('https://ghcr.io')).toBe('ghcr.io');
    expect(keyToPath('http://localhost:5000')).toBeUndefined();
    expect(keyToPath('my registry')).toBeUndefined();
    expect(keyToPath('user@host')).toBeUndefined();
    expect(keyToPath('')).toBeUndefined();
  });
});

describe('mapKeys', () => {
  it('mounts keys under the pattern prefix and keeps the usernames', () => {
    const { keys, skipped } = mapKeys(
      { 'https://index.docker.io/v1/': 'hub', 'ghcr.io': 'octo', 'http://localhost:5000': 'dev' },
      'docker-credentials',
    );
    expect(keys).toEqual([
      { id: 'docker-credentials/ghcr.io', key: 'ghcr.io', username: 'octo' },
      { id: 'docker-credentials/index.docker.io/v1', key: 'https://index.docker.io/v1/', username: 'hub' },
    ]);
    expect(skipped).toEqual([
      {
        key: 'http://localhost:5000',
        reason: 'not a valid secret ID, even without https:// and a trailing /',
      },
    ]);
  });

  it('every ID names one key: the key written as the ID wins a collision', () => {
    const { keys, skipped } = mapKeys(
      { 'https://ghcr.io/': 'a', 'ghcr.io': 'b', 'https://ghcr.io': 'c' },
      'dc',
    );
    expect(keys).toEqual([{ id: 'dc/ghcr.io', key: 'ghcr.io', username: 'b' }]);
    expect(skipped.map((s) => s.key).sort()).toEqual(['https://ghcr.io', 'https://ghcr.io/']);
    expect(skipped[0]?.reason).toBe('same ID as "ghcr.io", which wins');
    // Without an exact key, the first in sort order wins.
    expect(mapKeys({ 'https://x.io/': '1', 'https://x.io': '2' }, '').keys).toEqual([
      { id: 'x.io', key: 'https://x.io', username: '2' },
    ]);
  });
});
