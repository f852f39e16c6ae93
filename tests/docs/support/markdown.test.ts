import { expect, it } from 'vitest';
import { parseMarkdown, section } from './markdown.js';

const md = [
  '# T', //                                            1
  '```ts', //                                          2
  'const a = 1;', //                                   3
  '```', //                                            4
  '<!-- docs-check: skip — a fragment -->', //         5
  '````sh', //                                         6
  '```', //                                            7
  'echo', //                                           8
  '````', //                                           9
  '- item', //                                         10
  '  ```Text extra', //                                11
  '  indented', //                                     12
  '  ```', //                                          13
  '```', //                                            14
  '```', //                                            15
].join('\n');

it('finds fenced blocks with the line of their first content line, language and text', () => {
  const { blocks, problems } = parseMarkdown('x.md', md);
  expect(problems).toEqual([]);
  expect(blocks).toEqual([
    { file: 'x.md', line: 3, lang: 'ts', text: 'const a = 1;', indent: 0 },
    { file: 'x.md', line: 7, lang: 'sh', text: '```\necho', indent: 0, skip: { reason: 'a fragment' } },
    { file: 'x.md', line: 12, lang: 'text', text: 'indented', indent: 2 },
    { file: 'x.md', line: 15, lang: '', text: '', indent: 0 },
  ]);
});

it('fails a marker without a reason, an unknown marker, a marker not above a fence, an unclosed fence', () => {
  const { problems } = parseMarkdown(
    'x.md',
    ['<!-- docs-check: skip -->', '```ts', '```', '<!-- docs-check: ignore -->', '', '```sh', 'x'].join('\n'),
  );
  expect(problems.map((p) => `${p.line}: ${p.message}`)).toEqual([
    '1: a skip marker needs a reason: <!-- docs-check: skip — <reason> -->',
    '4: unknown docs-check marker; the only one is <!-- docs-check: skip — <reason> -->',
    '4: a docs-check marker must be on the line directly above a fence (```lang)',
    '6: this fence is never closed',
  ]);
  // The marker without a reason does not skip its block.
  expect(parseMarkdown('x.md', '<!-- docs-check: skip -->\n```ts\n```').blocks[0]?.skip).toBeUndefined();
});

it('cuts a ## section up to the next ## heading outside fences', () => {
  expect(section('## A\na\n```sh\n## not a heading\n```\n### sub\n## B\nb', 'A')).toBe(
    '## A\na\n```sh\n## not a heading\n```\n### sub',
  );
  expect(section('## A', 'B')).toBeUndefined();
});
