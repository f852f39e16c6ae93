// Just enough of the shell grammar to find the simple commands of a ```sh block: quotes, escapes,
// line continuations, comments, here-documents, redirections, the operators && || | ; & ( ), and
// command substitutions $(…) and `…` (whose commands are simple commands of their own, quoted or
// not). Words are unquoted; a substitution inside a word becomes the placeholder `$(…)`.

export interface SimpleCommand {
  /** The words, leading `NAME=value` assignments and wrappers (`sudo`, `time`, …) removed. */
  words: string[];
  /** 0-based line inside the block where the command starts. */
  line: number;
}

type Token =
  | { kind: 'word'; text: string; line: number }
  | { kind: 'op'; text: string; line: number }
  | { kind: 'redirect'; text: string; line: number };

const WRAPPERS = new Set([
  'sudo',
  'time',
  'exec',
  'command',
  'nohup',
  'env',
  '!',
  'then',
  'do',
  'else',
  'if',
  'elif',
  'while',
  'until',
]);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

export function simpleCommands(text: string, lineOffset = 0): SimpleCommand[] {
  const nested: SimpleCommand[] = [];
  const tokens = tokenize(text, lineOffset, nested);
  const out: SimpleCommand[] = [];
  let current: Token[] = [];
  const flush = (): void => {
    const words: string[] = [];
    let line = -1;
    for (let i = 0; i < current.length; i++) {
      const t = current[i]!;
      if (t.kind === 'redirect') {
        i++; // the redirection target is not an argument
        continue;
      }
      if (line === -1) line = t.line;
      words.push(t.text);
    }
    while (words.length > 0 && (ASSIGNMENT.test(words[0]!) || WRAPPERS.has(words[0]!))) words.shift();
    if (words.length > 0) out.push({ words, line });
    current = [];
  };
  for (const token of tokens) {
    if (token.kind === 'op') flush();
    else current.push(token);
  }
  flush();
  return [...out, ...nested].sort((a, b) => a.line - b.line);
}

function tokenize(src: string, lineOffset: number, nested: SimpleCommand[]): Token[] {
  const tokens: Token[] = [];
  let word = '';
  let inWord = false;
  let wordLine = lineOffset;
  let line = lineOffset;
  const heredocs: string[] = [];
  let i = 0;

  const endWord = (): void => {
    if (inWord) tokens.push({ kind: 'word', text: word, line: wordLine });
    word = '';
    inWord = false;
  };
  const startWord = (): void => {
    if (!inWord) {
      inWord = true;
      wordLine = line;
    }
  };
  /** Reads a $( … ) or ` … ` body starting at `from`, returns the index after its end. */
  const substitution = (from: number, closing: ')' | '`'): number => {
    let depth = 1;
    let j = from;
    let quote: string | undefined;
    while (j < src.length) {
      const c = src[j]!;
      if (quote) {
        if (c === '\\' && quote === '"') j++;
        else if (c === quote) quote = undefined;
      } else if (c === '\\') j++;
      else if (c === "'" || c === '"') quote = c;
      else if (closing === ')' && c === '(') depth++;
      else if (c === closing && --depth === 0) break;
      j++;
    }
    const body = src.slice(from, j);
    const bodyLine = line;
    nested.push(...simpleCommands(body, bodyLine));
    line += (body.match(/\n/g) ?? []).length;
    startWord();
    word += '$(…)';
    return j + 1;
  };

  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === '\\') {
      if (next === '\n') {
        line++;
        i += 2; // line continuation
        continue;
      }
      startWord();
      word += next ?? '';
      i += 2;
      continue;
    }
    if (c === "'") {
      startWord();
      const end = src.indexOf("'", i + 1);
      const body = src.slice(i + 1, end === -1 ? src.length : end);
      word += body;
      line += (body.match(/\n/g) ?? []).length;
      i = end === -1 ? src.length : end + 1;
      continue;
    }
    if (c === '"') {
      startWord();
      i++;
      while (i < src.length && src[i] !== '"') {
        const d = src[i]!;
        if (d === '\\' && i + 1 < src.length) {
          word += src[i + 1];
          i += 2;
        } else if (d === '$' && src[i + 1] === '(' && src[i + 2] !== '(') {
          i = substitution(i + 2, ')');
        } else if (d === '`') {
          i = substitution(i + 1, '`');
        } else {
          if (d === '\n') line++;
          word += d;
          i++;
        }
      }
      i++; // closing quote
      continue;
    }
    if (c === '$' && next === '(' && src[i + 2] !== '(') {
      i = substitution(i + 2, ')');
      continue;
    }
    if (c === '`') {
      i = substitution(i + 1, '`');
      continue;
    }
    if (c === '#' && !inWord) {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '\n') {
      endWord();
      tokens.push({ kind: 'op', text: '\n', line });
      line++;
      i++;
      // Here-document bodies follow the line that opened them.
      while (heredocs.length > 0) {
        const delimiter = heredocs.shift()!;
        while (i < src.length) {
          const end = src.indexOf('\n', i);
          const bodyLine = src.slice(i, end === -1 ? src.length : end);
          i = end === -1 ? src.length : end + 1;
          line++;
          if (bodyLine.replace(/^\t+/, '') === delimiter) break;
        }
      }
      continue;
    }
    if (c === ' ' || c === '\t') {
      endWord();
      i++;
      continue;
    }
    if (c === '>' || c === '<' || (c === '&' && next === '>')) {
      // A file descriptor number right before the operator belongs to it (2>&1).
      if (inWord && /^\d+$/.test(word)) {
        word = '';
        inWord = false;
      }
      endWord();
      const op = /^(?:&>>?|<<<|<<-?|>>|>&|<&|>\||<>|>|<)/.exec(src.slice(i))![0];
      i += op.length;
      if (op.startsWith('<<') && op !== '<<<') {
        const m = /^\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1/.exec(src.slice(i));
        if (m) {
          heredocs.push(m[2]!);
          i += m[0].length;
        }
        continue;
      }
      if ((op === '>&' || op === '<&') && /^\d|^-/.test(src.slice(i))) {
        while (i < src.length && /[\d-]/.test(src[i]!)) i++;
        continue;
      }
      tokens.push({ kind: 'redirect', text: op, line });
      continue;
    }
    if (c === '&' || c === '|' || c === ';' || c === '(' || c === ')') {
      endWord();
      const op = next === c && c !== '(' && c !== ')' ? c + c : c;
      tokens.push({ kind: 'op', text: op, line });
      i += op.length;
      continue;
    }
    startWord();
    word += c;
    i++;
  }
  endWord();
  return tokens;
}
