// secrets-engine inject [-i TEMPLATE] [-o FILE] [--socket P]
//
// Renders a template's `{{ se://ID }}` references (template.ts) into FILE or stdout. All or
// nothing: the template is parsed and every reference resolved before a byte is written; when
// one fails, nothing is written and one line names every failing reference and why (never a
// value). FILE is created 0600 and replaced atomically, never through a symbolic link
// (private-file.ts).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import {
  AccessDeniedError,
  EngineUnavailableError,
  isInvalidPatternError,
  isNotFoundError,
  ProviderFailedError,
  type SecretsClient,
} from '@secrets-engine/client';
import { parseCommand, positionals, socketOption } from '../args.js';
import { openClient, socketFlag } from '../engine-client.js';
import { CliError, ExitCode, errorMessage } from '../errors.js';
import { COMMAND_HELP } from '../help.js';
import type { Io } from '../io.js';
import { outputProblem, PrivateFileError, writePrivateFile } from '../private-file.js';
import { REFERENCE_PREFIX } from '../reference.js';
import { parseTemplate, renderTemplate, type Segment } from '../template.js';
import { withWaitNotice } from '../wait-notice.js';

/** The largest template read, from a file or stdin. */
export const MAX_TEMPLATE_BYTES = 16 * 1024 * 1024;
/** Secrets requested at once (each is one GetSecrets call on its own connection). */
const CONCURRENCY = 8;

type Outcome =
  | { ok: true; value: Uint8Array }
  | { ok: false; kind: 'not-found' | 'provider-failed' | 'unavailable' | 'other'; reason: string }
  // Why the engine is not available: said once, after the list, not after every reference.
  | { ok: false; kind: 'unavailable'; reason: string; detail: string };

export async function injectCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parseCommand('inject', args, {
    ...socketOption,
    'in-file': { type: 'string', short: 'i' },
    'out-file': { type: 'string', short: 'o' },
  });
  if (values.help) {
    io.out(COMMAND_HELP.inject!);
    return ExitCode.ok;
  }
  positionals('inject', rest, []);
  const input = values['in-file'] === undefined || values['in-file'] === '-' ? undefined : values['in-file'];
  const output =
    values['out-file'] === undefined || values['out-file'] === '-'
      ? undefined
      : resolvePath(values['out-file']);
  const inputName = input ?? 'stdin';
  const target = output ?? 'stdout';

  // Before any secret is fetched: the output path, the template and its references.
  if (output !== undefined) {
    const problem = outputProblem(output);
    if (problem !== undefined) throw new CliError(`not writing ${output}: ${problem}`, ExitCode.error);
  }
  const template = input === undefined ? await readStdin() : readTemplate(input);
  const { segments, problems } = parseTemplate(template);
  if (problems.length > 0) {
    const list = problems
      .map((p) => `${inputName}:${p.line}:${p.column} ${JSON.stringify(p.source)} (${p.reason})`)
      .join(', ');
    const n = problems.length;
    throw new CliError(
      `not writing ${target}: ${n} invalid secret reference${n === 1 ? '' : 's'} in ${inputName}: ${list}`,
      ExitCode.invalidPattern,
    );
  }
  const references = segments.filter(
    (s): s is Extract<Segment, { kind: 'reference' }> => s.kind === 'reference',
  );
  const ids = [...new Set(references.map((r) => r.id))];
  const outcomes = new Map<string, Outcome>();
  if (ids.length > 0) {
    const client = openClient(socketFlag(values.socket));
    try {
      const what = ids.length === 1 ? `${REFERENCE_PREFIX}${ids[0]}` : `${ids.length} secrets`;
      await withWaitNotice(io, client, ids, what, fetchAll(client, ids, outcomes));
    } finally {
      client.close();
    }
  }

  const failed = references.filter((r) => !outcomes.get(r.id)!.ok);
  if (failed.length > 0) {
    const kinds = new Set(failed.map((r) => (outcomes.get(r.id) as Extract<Outcome, { ok: false }>).kind));
    const list = failed
      .map((r) => {
        const outcome = outcomes.get(r.id) as Extract<Outcome, { ok: false }>;
        return `${inputName}:${r.line}:${r.column} ${REFERENCE_PREFIX}${r.id} (${outcome.reason})`;
      })
      .join(', ');
    const n = failed.length;
    const detail = failed
      .map((r) => outcomes.get(r.id))
      .find((o): o is Extract<Outcome, { detail: string }> => o !== undefined && 'detail' in o)?.detail;
    throw new CliError(
      `not writing ${target}: ${n} of ${references.length} secret reference${references.length === 1 ? '' : 's'} ` +
        `unresolved: ${list}${detail === undefined ? '' : ` [${detail}]`}`,
      // The code that tells a script what to do: retry (3, 5) or fix the template (2).
      kinds.has('unavailable')
        ? ExitCode.unavailable
        : kinds.has('other')
          ? ExitCode.error
          : kinds.has('provider-failed')
            ? ExitCode.providerFailed
            : ExitCode.notFound,
    );
  }
  const resolved = new Map<string, Uint8Array>();
  for (const [id, outcome] of outcomes) if (outcome.ok) resolved.set(id, outcome.value);
  const rendered = renderTemplate(segments, resolved);
  if (output === undefined) {
    io.outBytes(rendered);
    return ExitCode.ok;
  }
  try {
    writePrivateFile(output, rendered);
  } catch (err) {
    if (err instanceof PrivateFileError)
      throw new CliError(`not writing ${output}: ${err.message}`, ExitCode.error);
    throw err;
  }
  return ExitCode.ok;
}

/** Resolves every ID, CONCURRENCY at a time, into `outcomes`. Never throws. */
async function fetchAll(client: SecretsClient, ids: string[], outcomes: Map<string, Outcome>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      outcomes.set(id, await fetchOne(client, id));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, ids.length) }, worker));
}

async function fetchOne(client: SecretsClient, id: string): Promise<Outcome> {
  try {
    // Only the exact ID (never another secret that matched).
    return { ok: true, value: (await client.getSecret(id)).revealValue() };
  } catch (err) {
    if (err instanceof EngineUnavailableError) {
      return { ok: false, kind: 'unavailable', reason: 'engine not available', detail: err.message };
    }
    if (err instanceof ProviderFailedError) {
      // It may exist: say which provider failed, never "not found".
      const which = err.failures.map((f) => `provider ${JSON.stringify(f.plugin)} ${f.message}`);
      return {
        ok: false,
        kind: 'provider-failed',
        reason: which.length > 0 ? which.join('; ') : err.message,
      };
    }
    if (isNotFoundError(err)) return { ok: false, kind: 'not-found', reason: 'not found' };
    if (isInvalidPatternError(err))
      return { ok: false, kind: 'other', reason: `refused by the engine: ${err.message}` };
    if (err instanceof AccessDeniedError)
      return { ok: false, kind: 'other', reason: `access denied: ${err.message}` };
    return { ok: false, kind: 'other', reason: errorMessage(err) };
  }
}

function readTemplate(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ENOENT'
        ? `template ${path} does not exist`
        : `cannot read template ${path}: ${errorMessage(err)}`,
      ExitCode.error,
      { cause: err },
    );
  }
  try {
    // A regular file is measured first; a pipe or device (`-i /dev/stdin`) is read up to the limit.
    if (fstatSync(fd).size > MAX_TEMPLATE_BYTES) tooLarge(path);
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.byteLength, null);
      } catch (err) {
        throw new CliError(`cannot read template ${path}: ${errorMessage(err)}`, ExitCode.error, {
          cause: err,
        });
      }
      if (n === 0) break;
      size += n;
      if (size > MAX_TEMPLATE_BYTES) tooLarge(path);
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > MAX_TEMPLATE_BYTES) tooLarge('stdin');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tooLarge(what: string): never {
  throw new CliError(
    `the template ${what} is larger than ${MAX_TEMPLATE_BYTES / 1024 / 1024} MiB, the most inject reads`,
    ExitCode.error,
  );
}
