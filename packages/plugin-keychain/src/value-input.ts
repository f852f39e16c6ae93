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
  const first = await hiddenLine(stdin, output, options.prompt);
  if (first === '') throw new ValueInputError('the value is empty (an empty secret is refused)');
  const second = await hiddenLine(stdin, output, options.confirm);
  if (first !== second) throw new ValueInputError('the two entries differ: nothing stored');
  return first;
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

/** One line typed on a terminal in raw mode, not echoed. Ctrl-C or Ctrl-D on an empty line cancels. */
function hiddenLine(
  stdin: NodeJS.ReadStream,
  output: NodeJS.WritableStream,
  prompt: string,
): Promise<string> {
  output.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      output.write('\n');
      if (err === undefined) resolve(value);
      else reject(err);
    };
    const onData = (data: Buffer | string) => {
      for (const ch of typeof data === 'string' ? data : data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new ValueInputError('cancelled: nothing stored'));
        if (ch === '\u0004') {
          if (value === '') return done(new ValueInputError('cancelled: nothing stored'));
          return done();
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
