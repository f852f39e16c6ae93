import { parsePattern } from '@secrets-engine/plugin-sdk';
import { describe, expect, it } from 'vitest';
import { keyOf, type MappingOptions, mapEnvironment, mountOf } from './mapping.js';

const options = (more: Partial<MappingOptions> = {}): MappingOptions => ({
  prefix: 'SE_SECRET_',
  pattern: parsePattern('env/**'),
  lowercase: true,
  allowEmpty: false,
  ...more,
});

describe('names → IDs', () => {
  it('__ separates components, the key is lowercased, and mounted under the pattern prefix', () => {
    expect(keyOf('DB__PASSWORD', true)).toBe('db/password');
    expect(keyOf('GITHUB_TOKEN', true)).toBe('github_token');
    expect(keyOf('Prod__Api_Key', false)).toBe('Prod/Api_Key');
    expect(mountOf('env/**')).toBe('env');
    expect(mountOf('**')).toBe('');
    const { entries, problems } = mapEnvironment(
      { SE_SECRET_DB__PASSWORD: 'pw', SE_SECRET_NPM_TOKEN: 'npm', PATH: '/bin', se_secret_lower: 'x' },
      options(),
    );
    expect(problems).toEqual([]);
    expect(entries).toEqual([
      { id: 'env/db/password', value: 'pw', metadata: { variable: 'SE_SECRET_DB__PASSWORD' } },
      { id: 'env/npm_token', value: 'npm', metadata: { variable: 'SE_SECRET_NPM_TOKEN' } },
    ]);
    // With ** the keys are the IDs.
    expect(
      mapEnvironment({ SE_SECRET_DB__PASSWORD: 'pw' }, options({ pattern: parsePattern('**') })).entries,
    ).toEqual([{ id: 'db/password', value: 'pw', metadata: { variable: 'SE_SECRET_DB__PASSWORD' } }]);
  });

  it('a name that gives no valid ID is skipped, by name, never with its value', () => {
    const { entries, problems } = mapEnvironment(
      {
        SE_SECRET_: 'VALUE-1',
        SE_SECRET___LEADING: 'VALUE-2',
        SE_SECRET_A____B: 'VALUE-3',
        'SE_SECRET_WITH SPACE': 'VALUE-4',
        SE_SECRET_OK: 'fine',
        IGNORED_PREFIX: 'VALUE-5',
      },
      options({ ignore: ['SE_SECRET_OK'] }),
    );
    expect(entries).toEqual([]);
    expect(problems).toEqual([
      '$SE_SECRET_: nothing after the prefix SE_SECRET_; skipped',
      '$SE_SECRET_A____B: "env/a//b" is not a valid secret ID (components of A-Z a-z 0-9 . _ - :, separated by __ in the name); skipped',
      '$SE_SECRET_WITH SPACE: "env/with space" is not a valid secret ID (components of A-Z a-z 0-9 . _ - :, separated by __ in the name); skipped',
      '$SE_SECRET___LEADING: "env//leading" is not a valid secret ID (components of A-Z a-z 0-9 . _ - :, separated by __ in the name); skipped',
    ]);
    expect(problems.join('\n')).not.toContain('VALUE');
  });

  it('empty values and two names for one ID are refused by ID (a request for it gets the reason)', () => {
    const mapped = mapEnvironment(
      { SE_SECRET_UNSET: '', SE_SECRET_TOKEN: 'VALUE-a', SE_SECRET_token: 'VALUE-b', SE_SECRET_OK: 'ok' },
      options(),
    );
    expect(mapped.entries.map((e) => e.id)).toEqual(['env/ok']);
    expect(mapped.refused).toEqual([
      {
        id: 'env/unset',
        reason: '$SE_SECRET_UNSET is set but empty (a CI secret that is not defined expands to ""); refused',
      },
      {
        id: 'env/token',
        reason: '$SE_SECRET_TOKEN and $SE_SECRET_token all map to env/token; rename all but one',
      },
    ]);
    expect(JSON.stringify(mapped.refused)).not.toContain('VALUE');
    expect(mapEnvironment({ SE_SECRET_UNSET: '' }, options({ allowEmpty: true })).entries).toEqual([
      { id: 'env/unset', value: '', metadata: { variable: 'SE_SECRET_UNSET' } },
    ]);
    // Case kept: two IDs.
    expect(
      mapEnvironment({ SE_SECRET_A: '1', SE_SECRET_a: '2' }, options({ lowercase: false })).entries,
    ).toHaveLength(2);
  });
});
