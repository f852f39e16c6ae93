// Variable names ↔ secret IDs. A variable `<prefix><REST>` is the key REST with `__` as the
// component separator and lowercased (`SE_SECRET_DB__PASSWORD` → `db/password`), mounted under
// the pattern's literal prefix (`env/**` → `env/db/password`). Pure: no I/O, no value in any message.
import { type EnvelopeInit, isValidId, match, type SecretPattern } from '@secrets-engine/plugin-sdk';

/** Marks the nesting of components in a variable name: `A__B` → `a/b`. */
export const SEPARATOR = '__';

export interface MappingOptions {
  prefix: string;
  pattern: SecretPattern;
  /** Lowercase the key (default true): `DB__PASSWORD` → `db/password`. */
  lowercase: boolean;
  /** Serve variables set to the empty string (default false: refused). */
  allowEmpty: boolean;
  /** Variables never served even with the prefix (the provider's own settings). */
  ignore?: readonly string[];
}

/** An ID that cannot be served: a request naming it fails with `reason`. */
export interface RefusedEntry {
  id: string;
  reason: string;
}

export interface Mapped {
  entries: EnvelopeInit[];
  refused: RefusedEntry[];
  /** One line per skipped or refused variable, by name; never a value. */
  problems: string[];
}

/** The pattern's leading literal components: `env/**` → `env`, `**` → `` (keys are full IDs). */
export function mountOf(pattern: string): string {
  const literal: string[] = [];
  for (const component of pattern.split('/')) {
    if (component === '*' || component === '**') break;
    literal.push(component);
  }
  return literal.join('/');
}

/** The key of a variable name without its prefix: `DB__PASSWORD` → `db/password` (lowercased). */
export function keyOf(rest: string, lowercase: boolean): string {
  const key = rest.split(SEPARATOR).join('/');
  return lowercase ? key.toLowerCase() : key;
}

/** The variables of `env` that start with the prefix, as envelopes (sorted by variable name). */
export function mapEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  options: MappingOptions,
): Mapped {
  const mount = mountOf(options.pattern);
  const ignore = new Set(options.ignore ?? []);
  const byId = new Map<string, { variable: string; value: string }[]>();
  const problems: string[] = [];
  const refused: RefusedEntry[] = [];
  const names = Object.keys(env)
    .filter((n) => n.startsWith(options.prefix) && !ignore.has(n))
    .sort();
  for (const variable of names) {
    const value = env[variable];
    if (value === undefined) continue;
    const rest = variable.slice(options.prefix.length);
    if (rest === '') {
      problems.push(`$${variable}: nothing after the prefix ${options.prefix}; skipped`);
      continue;
    }
    const key = keyOf(rest, options.lowercase);
    const id = mount === '' ? key : `${mount}/${key}`;
    if (!isValidId(id)) {
      problems.push(
        `$${variable}: ${JSON.stringify(id)} is not a valid secret ID (components of A-Z a-z 0-9 . _ - :, separated by ${SEPARATOR} in the name); skipped`,
      );
      continue;
    }
    if (!match(options.pattern, id)) {
      problems.push(`$${variable}: ${id} is outside the plugin's pattern ${options.pattern}; skipped`);
      continue;
    }
    if (value === '' && !options.allowEmpty) {
      const reason = `$${variable} is set but empty (a CI secret that is not defined expands to ""); refused`;
      refused.push({ id, reason });
      problems.push(reason);
      continue;
    }
    const list = byId.get(id) ?? [];
    list.push({ variable, value });
    byId.set(id, list);
  }
  const entries: EnvelopeInit[] = [];
  for (const [id, list] of byId) {
    if (list.length > 1) {
      // Which one was meant is a guess: neither is served.
      const reason = `${list.map((v) => `$${v.variable}`).join(' and ')} all map to ${id}; rename all but one`;
      refused.push({ id, reason });
      problems.push(reason);
      continue;
    }
    const [only] = list;
    entries.push({ id, value: only!.value, metadata: { variable: only!.variable } });
  }
  return { entries, refused, problems };
}
