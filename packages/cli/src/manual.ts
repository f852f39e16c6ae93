// The manual page (issue 16 item 6), made from the --help texts of help.ts at build time
// (scripts/bundle.mjs writes bundle/secrets-engine.1, the package's `man` entry): one source, so
// `man secrets-engine` and `--help` never disagree (manual.test.ts checks every line of every
// help text is in the page, in order).
//
// A help text is a summary line, then blocks separated by blank lines: a heading line ending in
// ':' ("Usage:", "Flags:", ...) starts a section whose indented lines are shown as they are
// (.nf/.fi, exactly as on the terminal); unindented lines are running text (.PP).

import { COMMAND_HELP, MAIN_HELP } from './help.js';
import { PROGRAM } from './meta.js';

/** Escapes text for roff: backslashes, hyphens (so they stay ASCII), and a leading dot or quote. */
function roff(text: string): string {
  const escaped = text.replace(/\\/g, '\\e').replace(/-/g, '\\-');
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

/** The body of one help text (without its summary line) as roff. */
function body(lines: readonly string[]): string[] {
  const out: string[] = [];
  let mode: 'text' | 'literal' | undefined;
  const end = () => {
    if (mode === 'literal') out.push('.fi');
    mode = undefined;
  };
  for (const line of lines) {
    if (line.trim() === '') {
      end();
      continue;
    }
    if (/^[A-Z][A-Za-z ]*:$/.test(line)) {
      end();
      out.push('.PP', `.B ${roff(line)}`);
      continue;
    }
    if (line.startsWith(' ')) {
      if (mode !== 'literal') {
        end();
        out.push('.nf');
        mode = 'literal';
      }
      out.push(roff(line));
      continue;
    }
    if (mode !== 'text') {
      end();
      out.push('.PP');
      mode = 'text';
    }
    out.push(roff(line));
  }
  end();
  return out;
}

/** The first paragraph (joined into one line) and the lines after it. */
function split(help: string): { summary: string; rest: string[] } {
  const lines = help.replace(/\n+$/, '').split('\n');
  const blank = lines.indexOf('');
  const head = blank === -1 ? lines : lines.slice(0, blank);
  return { summary: head.join(' '), rest: blank === -1 ? [] : lines.slice(blank) };
}

/** The manual page of `secrets-engine` for `version`. */
export function renderManPage(version: string): string {
  const main = split(MAIN_HELP);
  const [name, ...what] = main.summary.split(': ');
  const out = [
    `.TH ${PROGRAM.toUpperCase()} 1 "" "${PROGRAM} ${roff(version)}" "User Commands"`,
    // No hyphenation, no justification: running text is filled, never split inside a word.
    '.nh',
    '.ad l',
    '.SH NAME',
    `${roff(name ?? PROGRAM)} \\- ${roff(what.join(': '))}`,
    '.SH DESCRIPTION',
    ...body(main.rest),
    '.SH COMMANDS',
  ];
  for (const [command, help] of Object.entries(COMMAND_HELP)) {
    const { summary, rest } = split(help);
    out.push(`.SS "${PROGRAM} ${command}"`, '.PP', roff(summary), ...body(rest));
  }
  out.push(
    '.SH SEE ALSO',
    `Run \\fB${PROGRAM} \\fIcommand\\fB \\-\\-help\\fR for the same text on a terminal.`,
  );
  return `${out.join('\n')}\n`;
}
