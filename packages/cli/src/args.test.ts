// parseCommand judges parseArgs' tokens itself (issue 16 item 6): every usage error names the flag
// and how it was wrong, without reading Node's own error messages.
import { describe, expect, it } from 'vitest';
import { parseCommand } from './args.js';
import { UsageError } from './errors.js';

const spec = {
  socket: { type: 'string', short: 's' },
  json: { type: 'boolean' },
  env: { type: 'string', multiple: true },
} as const;
const parse = (...args: string[]) => parseCommand('get', args, spec);
const refused = (args: string[], message: string) => {
  expect(() => parse(...args)).toThrow(new UsageError(message, 'get'));
};

describe('parseCommand', () => {
  it('reads flags, short aliases, inline values, repeats and positionals in any order', () => {
    expect(parse('a', '-s', 'x.sock', '--json', '--env=K=V', 'b', '--env', 'L=W')).toEqual({
      values: { socket: 'x.sock', json: true, env: ['K=V', 'L=W'] },
      positionals: ['a', 'b'],
    });
    expect(parse('-sx.sock').values.socket).toBe('x.sock');
    expect(parse('--socket=-odd').values.socket).toBe('-odd');
    expect(parse('--socket', '-').values.socket).toBe('-');
    expect(parse('-h').values.help).toBe(true);
  });
  it('takes everything after -- as positionals', () => {
    expect(parse('a', '--', '--json', '-s')).toEqual({ values: {}, positionals: ['a', '--json', '-s'] });
  });
  it('refuses an unknown flag, long or short, as it was written', () => {
    refused(['--bogus'], 'unknown flag --bogus');
    refused(['-x'], 'unknown flag -x');
    refused(['--s', 'x'], 'unknown flag --s');
    refused(['-j'], 'unknown flag -j');
  });
  it('refuses a boolean flag given a value, and a string flag without one, naming the long flag', () => {
    refused(['--json=yes'], 'flag --json does not take a value');
    refused(['--socket'], 'flag --socket needs a value');
    refused(['-s'], 'flag --socket needs a value');
    refused(['--socket', '--json'], 'flag --socket needs a value');
    refused(['-s', '-x'], 'flag --socket needs a value');
  });
});
