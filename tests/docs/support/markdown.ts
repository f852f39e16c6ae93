// Fenced code blocks of a Markdown file, with where they are, and the `docs-check` skip markers.

export interface CodeBlock {
  /** Repo-relative path of the Markdown file. */
  file: string;
  /** 1-based line of the first content line (of the closing fence for an empty block). */
  line: number;
  /** The language tag, lower-cased: the first word of the info string ('' when there is none). */
  lang: string;
  /** The content, without the fences and without the fence's indentation. */
  text: string;
  /** Columns removed from each line (an indented fence inside a list item). */
  indent: number;
  /** Set when a valid skip marker is directly above the fence. */
  skip?: { reason: string };
}

/** Something wrong with the Markdown itself: a marker without a reason, an unclosed fence. */
export interface MarkdownProblem {
  file: string;
  line: number;
  message: string;
}

const FENCE = /^( {0,3})(`{3,})\s*([^`]*)$/;
const MARKER = /^ {0,3}<!--\s*docs-check:(.*?)-->\s*$/;
const SKIP = /^\s*skip\s*(?:[—–:-]+\s*(.*?))?\s*$/;

export const SKIP_MARKER_FORM = '<!-- docs-check: skip — <reason> -->';

export function parseMarkdown(
  file: string,
  source: string,
): { blocks: CodeBlock[]; problems: MarkdownProblem[] } {
  const lines = source.split('\n');
  const blocks: CodeBlock[] = [];
  const problems: MarkdownProblem[] = [];
  let pendingMarker: { line: number; reason: string | undefined; valid: boolean } | undefined;

  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const open = FENCE.exec(raw);
    if (!open) {
      if (pendingMarker) {
        problems.push({
          file,
          line: pendingMarker.line,
          message: 'a docs-check marker must be on the line directly above a fence (```lang)',
        });
        pendingMarker = undefined;
      }
      const marker = MARKER.exec(raw);
      if (marker) {
        const skip = SKIP.exec(marker[1] ?? '');
        const reason = skip?.[1]?.trim();
        if (!skip) {
          problems.push({
            file,
            line: i + 1,
            message: `unknown docs-check marker; the only one is ${SKIP_MARKER_FORM}`,
          });
        } else if (!reason) {
          problems.push({ file, line: i + 1, message: `a skip marker needs a reason: ${SKIP_MARKER_FORM}` });
        }
        pendingMarker = { line: i + 1, reason, valid: Boolean(skip && reason) };
      }
      continue;
    }
    const indent = open[1]?.length ?? 0;
    const ticks = open[2] ?? '```';
    const lang = (open[3] ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    const close = new RegExp(`^ {0,3}\`{${ticks.length},}\\s*$`);
    const content: string[] = [];
    let j = i + 1;
    while (j < lines.length && !close.test(lines[j] ?? '')) {
      const line = lines[j] ?? '';
      // Remove up to `indent` leading spaces, as CommonMark does for an indented fence.
      content.push(line.replace(new RegExp(`^ {0,${indent}}`), ''));
      j++;
    }
    if (j >= lines.length) {
      problems.push({ file, line: i + 1, message: 'this fence is never closed' });
    }
    const block: CodeBlock = { file, line: i + 2, lang, text: content.join('\n'), indent };
    if (pendingMarker?.valid && pendingMarker.reason) block.skip = { reason: pendingMarker.reason };
    pendingMarker = undefined;
    blocks.push(block);
    i = j;
  }
  if (pendingMarker) {
    problems.push({
      file,
      line: pendingMarker.line,
      message: 'a docs-check marker must be on the line directly above a fence (```lang)',
    });
  }
  return { blocks, problems };
}

/** `packages/plugin-sdk/README.md` → `packages-plugin-sdk-README-md`. */
export function fileSlug(file: string): string {
  return file.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/** The `## Heading` section of a Markdown text (up to the next `## `), or undefined. */
export function section(markdown: string, heading: string): string | undefined {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${heading}`);
  if (start === -1) return undefined;
  let end = start + 1;
  let inFence = false;
  while (end < lines.length) {
    const line = lines[end] ?? '';
    if (/^ {0,3}```/.test(line)) inFence = !inFence;
    if (!inFence && /^## /.test(line)) break;
    end++;
  }
  return lines.slice(start, end).join('\n');
}
