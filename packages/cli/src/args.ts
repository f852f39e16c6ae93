// Command-line parsing on node:util parseArgs (no third-party parser), with its errors turned into
// one-line usage errors (exit 64).
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
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...helpOption, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Parsed<O>['values'], positionals };
  } catch (err) {
    throw new UsageError(describeParseError(err), command);
  }
}

function describeParseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? String(err);
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const flag = /Unknown option '([^']+)'/.exec(message)?.[1];
      return flag === undefined ? message : `unknown flag ${flag}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      // "Option '--socket <value>' …" or, with a short alias, "Option '-s, --socket <value>' …".
      const spec = /Option '([^']+)'/.exec(message)?.[1] ?? '';
      const flag = /--[\w-]+/.exec(spec)?.[0] ?? /-\w/.exec(spec)?.[0];
      if (flag === undefined) return message.split('\n')[0] ?? message;
      if (message.includes('does not take an argument')) return `flag ${flag} does not take a value`;
      return `flag ${flag} needs a value`;
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': {
      const arg = /Unexpected argument '([^']*)'/.exec(message)?.[1];
      return arg === undefined ? message : `unexpected argument ${JSON.stringify(arg)}`;
    }
    default:
      return message.split('\n')[0] ?? message;
  }
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
