// The value `set` stores: from stdin when it is not a terminal (one trailing newline dropped),
// else typed at a no-echo prompt on the terminal, asked twice. Never from argv.
import { KeychainProviderError } from './errors.js';
import { MAX_VALUE_BYTES } from './provider.js';

/** The value could not be read: empty, too long, not UTF-8, the two entries differ, cancelled. */
export class ValueInputError extends KeychainProviderError {
  static {
    ValueInputError.prototype.name = 'ValueInputError';
  }
}

export interface ReadValueOptions {
  prompt: string;
  confirm: string;
  stdin?: NodeJS.ReadStream;
  /** Where the prompts go (default stderr, so stdout stays clean). */
  output?: NodeJS.WritableStream;
}

export async function readValue(options: ReadValueOptions): Promise<string> {
  const stdin = options.stdin ?? process.stdin;
  const output = options.output ?? process.stderr;
  if (!stdin.isTTY) return fromPipe(stdin);
  // Raw mode (no echo) from before the first prompt to after the second: whatever is typed once a
  // prompt shows is never echoed, even typed ahead of the read.
  stdin.setRawMode(true);
  const typedAhead: string[] = [];
  try {
    const first = await hiddenLine(stdin, output, options.prompt, typedAhead);
    if (first === '') throw new ValueInputError('the value is empty (an empty secret is refused)');
    const second = await hiddenLine(stdin, output, options.confirm, typedAhead);
    if (first !== second) throw new ValueInputError('the two entries differ: nothing stored');
    return first;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

async function fromPipe(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    // Room for the trailing newline dropped below.
    if (size > MAX_VALUE_BYTES + 2) {
      throw new ValueInputError(`the value on stdin is more than ${MAX_VALUE_BYTES} bytes`);
    }
    chunks.push(buffer);
  }
  let bytes = Buffer.concat(chunks);
  if (bytes.at(-1) === 0x0a) bytes = bytes.subarray(0, bytes.at(-2) === 0x0d ? -2 : -1);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ValueInputError('the value on stdin is not UTF-8 text (the keychain stores text)');
  }
  if (text === '') {
    throw new ValueInputError(
      'the value on stdin is empty (an empty secret is refused; pipe the value in, or run set in a terminal to be prompted)',
    );
  }
  return text;
}

/** One line typed on a terminal already in raw mode (not echoed). Ctrl-C, or Ctrl-D on an empty line, cancels. */
function hiddenLine(
  stdin: NodeJS.ReadStream,
  output: NodeJS.WritableStream,
  prompt: string,
  typedAhead: string[],
): Promise<string> {
  output.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (err?: Error) => {
      stdin.off('data', onData);
      stdin.pause();
      output.write('\n');
      if (err === undefined) resolve(value);
      else reject(err);
      return true;
    };
    /** True once the line is complete; what follows it stays in `typedAhead` for the next line. */
    const take = (): boolean => {
      while (typedAhead.length > 0) {
        const ch = typedAhead.shift() as string;
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new ValueInputError('cancelled: nothing stored'));
        if (ch === '\u0004') {
          return value === '' ? done(new ValueInputError('cancelled: nothing stored')) : done();
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
        if (Buffer.byteLength(value) > MAX_VALUE_BYTES) {
          return done(new ValueInputError(`the value typed is more than ${MAX_VALUE_BYTES} bytes`));
        }
      }
      return false;
    };
    const onData = (data: Buffer | string) => {
      typedAhead.push(...(typeof data === 'string' ? data : data.toString('utf8')));
      take();
    };
    if (take()) return;
    stdin.on('data', onData);
    stdin.resume();
  });
}
