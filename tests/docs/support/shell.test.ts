import { expect, it } from 'vitest';
import { simpleCommands } from './shell.js';

const words = (text: string): string[][] => simpleCommands(text).map((c) => c.words);

it('splits on && || | ; & and newlines, and drops assignments and wrappers', () => {
  expect(words('a 1 && b 2 || c | d; e & f\nX=1 Y="a b" sudo g --h')).toEqual([
    ['a', '1'],
    ['b', '2'],
    ['c'],
    ['d'],
    ['e'],
    ['f'],
    ['g', '--h'],
  ]);
});

it('unquotes words and keeps quoted operators and # inside words', () => {
  expect(words(`get 'a/**' "b c" d\\ e x#y # a comment && not-a-command`)).toEqual([
    ['get', 'a/**', 'b c', 'd e', 'x#y'],
  ]);
});

it('makes the commands of $(…) and `…` commands of their own, quoted or not', () => {
  expect(words('a "$(b --x)" $(c | d) `e`')).toEqual([
    ['a', '$(…)', '$(…)', '$(…)'],
    ['b', '--x'],
    ['c'],
    ['d'],
    ['e'],
  ]);
});

it('joins continuation lines and reports the first line of each command', () => {
  const commands = simpleCommands('one \\\n  --flag \\\n  value\ntwo');
  expect(commands).toEqual([
    { words: ['one', '--flag', 'value'], line: 0 },
    { words: ['two'], line: 3 },
  ]);
});

it('drops redirections and skips here-document bodies', () => {
  expect(words("echo hi > /tmp/x 2>&1\ncat <<'EOF' >out\nsecrets-engine nope\nEOF\nnext")).toEqual([
    ['echo', 'hi'],
    ['cat'],
    ['next'],
  ]);
});
