// `se://ID` references as `read`, `inject` and `get` take them. `run` has the same prefix.
import { parseId, parsePattern, type SecretId } from '@secrets-engine/secrets';
import { CliError, ExitCode } from './errors.js';

export const REFERENCE_PREFIX = 'se://';

/**
 * The secret ID of `se://ID` (or of a bare ID). A pattern is refused: an exact command never takes
 * whichever secret happens to match. Throws CliError exit 4 naming the argument and why.
 */
export function referenceId(arg: string, command: string): SecretId {
  const id = arg.startsWith(REFERENCE_PREFIX) ? arg.slice(REFERENCE_PREFIX.length) : arg;
  if (id.includes('*')) {
    let pattern = true;
    try {
      parsePattern(id);
    } catch {
      pattern = false;
    }
    if (pattern) {
      throw new CliError(
        `${command} takes one exact secret ID, and ${quote(arg)} is a pattern; ` +
          `list what it matches with: secrets-engine get '${arg}'`,
        ExitCode.invalidPattern,
      );
    }
  }
  try {
    return parseId(id);
  } catch (err) {
    throw new CliError(
      `invalid secret reference ${quote(arg)}: ${(err as Error).message}`,
      ExitCode.invalidPattern,
      {
        cause: err,
      },
    );
  }
}

/** The pattern of `se://PATTERN` (or of a bare pattern), validated: InvalidPatternError otherwise. */
export function referencePattern(arg: string): string {
  const pattern = arg.startsWith(REFERENCE_PREFIX) ? arg.slice(REFERENCE_PREFIX.length) : arg;
  parsePattern(pattern);
  return pattern;
}

/** JSON quoting, clipped to 64 characters: an argument may be long. */
export function quote(text: string): string {
  return JSON.stringify(text.length <= 64 ? text : `${text.slice(0, 64)}…`);
}
