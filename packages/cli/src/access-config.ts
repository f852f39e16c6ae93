// `serve --access FILE`: who may call the engine socket, as rules (uid, executable, pattern) in a
// JSON file. Every rule that matches opens what it names; no file keeps the engine's default, its
// own uid only. A file that does not parse or has a bad entry stops serve with the file, the entry
// and what is allowed (exit 1): an engine never starts with rules it misread.
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { AccessRule } from '@secrets-engine/runtime';
import { isValidPattern } from '@secrets-engine/secrets';
import { CliError, ExitCode, errorMessage } from './errors.js';

const RULE_KEYS = new Set(['uid', 'executable', 'pattern']);

/** Reads and validates the rules of `file`. */
export function readAccessRules(file: string): AccessRule[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read the access rules ${file}: ${errorMessage(err)}`, ExitCode.error, {
      cause: err,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${file} is not valid JSON: ${errorMessage(err)}`, ExitCode.error, { cause: err });
  }
  return parseAccessRules(json, file);
}

/** Validates `{"rules": [{"uid"?, "executable"?, "pattern"?}, ...]}`; errors name `where`. */
export function parseAccessRules(json: unknown, where: string): AccessRule[] {
  const bad = (path: string, what: string, got: unknown): never => {
    throw new CliError(
      `${where}: ${path} ${what}, got ${JSON.stringify(got) ?? String(got)}`,
      ExitCode.error,
    );
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    bad('the file', 'must be an object {"rules": [...]}', json);
  const top = json as Record<string, unknown>;
  for (const key of Object.keys(top))
    if (key !== 'rules') bad(`"${key}"`, 'is not a known field (only "rules")', key);
  if (!Array.isArray(top.rules)) bad('"rules"', 'must be an array of rules', top.rules);
  return (top.rules as unknown[]).map((raw, i) => {
    const at = `rules[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad(at, 'must be an object', raw);
    const r = raw as Record<string, unknown>;
    for (const key of Object.keys(r)) {
      if (!RULE_KEYS.has(key)) bad(`${at}.${key}`, 'is not a rule field (uid, executable, pattern)', key);
    }
    if (Object.keys(r).length === 0)
      bad(at, 'opens everything to everyone: give a uid, an executable or a pattern', r);
    const rule: { uid?: number; executable?: string; pattern?: string } = {};
    if (r.uid !== undefined) {
      if (typeof r.uid !== 'number' || !Number.isInteger(r.uid) || r.uid < 0)
        bad(`${at}.uid`, 'must be a whole number >= 0', r.uid);
      rule.uid = r.uid as number;
    }
    if (r.executable !== undefined) {
      if (typeof r.executable !== 'string' || !isAbsolute(r.executable)) {
        bad(`${at}.executable`, 'must be an absolute path', r.executable);
      }
      rule.executable = r.executable as string;
    }
    if (r.pattern !== undefined) {
      if (typeof r.pattern !== 'string' || !isValidPattern(r.pattern)) {
        bad(
          `${at}.pattern`,
          'must be a secret pattern (components separated by "/", "*" one, "**" any)',
          r.pattern,
        );
      }
      rule.pattern = r.pattern as string;
    }
    return rule;
  });
}
