// Command-line parsing on node:util parseArgs (no third-party parser): its tokens are judged here,
// each problem a one-line usage error (exit 64) naming the flag.
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}
type Options = Record<string, OptionSpec>;
type Value<S extends OptionSpec> = S['type'] extends 'string'
  ? S['multiple'] extends true
    ? string[]
    : string
  : S['multiple'] extends true
    ? boolean[]
    : boolean;

/** What parseCommand returns: a flag that was not given is undefined. */
export interface Parsed<O extends Options> {
  values: { [K in keyof O]?: Value<O[K]> } & { help?: boolean };
  positionals: string[];
}

/** Options every command accepts. */
export const helpOption = { help: { type: 'boolean', short: 'h' } } as const satisfies Options;
export const socketOption = { socket: { type: 'string', short: 's' } } as const satisfies Options;

export function parseCommand<const O extends Options>(
  command: string,
  args: string[],
  options: O,
): Parsed<O> {
  const all: Options = { ...helpOption, ...options };
  // Not strict: parseArgs then reports every argument as a token and never throws, and each
  // problem is judged here from the tokens (which flag, given how), never from Node's English
  // error messages.
  const { tokens } = parseArgs({ args, options: all, allowPositionals: true, strict: false, tokens: true });
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') continue;
    const spec = Object.hasOwn(all, token.name) ? all[token.name] : undefined;
    const known =
      spec !== undefined &&
      (token.rawName === `--${token.name}` ||
        (spec.short !== undefined && token.rawName === `-${spec.short}`));
    if (!known) throw new UsageError(`unknown flag ${token.rawName}`, command);
    const flag = `--${token.name}`;
    let value: string | boolean;
    if (spec.type === 'boolean') {
      if (token.inlineValue === true) throw new UsageError(`flag ${flag} does not take a value`, command);
      value = true;
    } else {
      // A value that looks like a flag (`--socket --json`) is a forgotten value, as strict
      // parseArgs judges it; `--socket=-x` says it is meant.
      if (token.value === undefined || (token.inlineValue !== true && isFlagLike(token.value))) {
        throw new UsageError(`flag ${flag} needs a value`, command);
      }
      value = token.value;
    }
    if (spec.multiple === true) {
      const list = (values[token.name] as unknown[] | undefined) ?? [];
      list.push(value);
      values[token.name] = list;
    } else values[token.name] = value;
  }
  return { values: values as Parsed<O>['values'], positionals };
}

/** `-x`, `--x`: what parseArgs would read as a flag (a lone `-`, stdin by convention, is a value). */
function isFlagLike(value: string): boolean {
  return value.length > 1 && value.startsWith('-');
}

/** Exactly `count` positionals, else a usage error naming what is missing or extra. */
export function positionals(command: string, values: string[], names: string[]): string[] {
  if (values.length < names.length) {
    throw new UsageError(`missing ${names.slice(values.length).join(' ')}`, command);
  }
  if (values.length > names.length) {
    throw new UsageError(`unexpected argument ${JSON.stringify(values[names.length])}`, command);
  }
  return values;
}
