// Running a Docker credential helper (`<helper> get|list`, the key on stdin, JSON on stdout),
// bounded: a timeout, the caller's abort signal, a cap on the output. The helper runs in its own
// process group, and the whole group is killed, so a helper that started a child of its own
// (`pass` → `gpg`) cannot keep the request open. Its output never reaches a log or an error
// message: stdout holds the secret, and stderr is not read at all (a shell wrapper under `set -x`
// echoes its variables there).
import { spawn } from 'node:child_process';
import { killProcessGroup } from '@secrets-engine/plugin-sdk';
import { HelperError } from './errors.js';

export type HelperAction = 'get' | 'list';

/** What docker-credential-helpers print (on stdout, exit 1) for a key they do not have. */
export const NOT_FOUND_MESSAGE = 'credentials not found in native keychain';

export interface RunHelperOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Cap on stdout. Default 1 MiB. */
  maxOutputBytes?: number;
}

export interface HelperResult {
  /** The exit code (null if killed by a signal). */
  code: number | null;
  stdout: Buffer;
}

/** Process groups of running helpers, killed if the plugin exits first. */
const running = new Set<number>();
let exitHookInstalled = false;

/** Kills every helper still running (the plugin is stopping). */
export function killRunningHelpers(): void {
  for (const pid of running) killProcessGroup(pid);
}

const ms = (n: number) => (n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`);

export function runHelper(
  helper: string,
  action: HelperAction,
  input: string,
  options: RunHelperOptions,
): Promise<HelperResult> {
  const maxOutput = options.maxOutputBytes ?? 1024 * 1024;
  const what = `credential helper "${action}"`;
  options.signal?.throwIfAborted();
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', killRunningHelpers);
  }
  return new Promise<HelperResult>((resolve, reject) => {
    const child = spawn(helper, [action], {
      stdio: ['pipe', 'pipe', 'ignore'],
      detached: true,
      env: options.env ?? process.env,
    });
    const pid = child.pid;
    if (pid !== undefined) running.add(pid);
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    let exitTimer: NodeJS.Timeout | undefined;

    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(exitTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (pid !== undefined) running.delete(pid);
      fn();
    };
    const fail = (message: string) => {
      killProcessGroup(pid);
      child.stdout.destroy();
      finish(() => reject(new HelperError(message)));
    };
    const onAbort = () => {
      killProcessGroup(pid);
      child.stdout.destroy();
      finish(() => reject(options.signal?.reason));
    };
    const timer = setTimeout(
      () => fail(`${what} timed out after ${ms(options.timeoutMs)}`),
      options.timeoutMs,
    );
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.once('error', (err: NodeJS.ErrnoException) => {
      finish(() => reject(new HelperError(`cannot run ${what} (${helper}): ${err.code ?? err.message}`)));
    });
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxOutput) fail(`${what} printed more than ${maxOutput} bytes`);
      else chunks.push(chunk);
    });
    // A helper that exits without reading its stdin: EPIPE is not our failure.
    child.stdin.on('error', () => {});
    child.stdin.end(input);

    const done = (code: number | null) => finish(() => resolve({ code, stdout: Buffer.concat(chunks) }));
    // 'close' waits for stdout to end. A grandchild may hold it open after the helper exited: then
    // give the pipe a moment and finish without it.
    child.once('close', (code) => done(code));
    child.once('exit', (code) => {
      exitTimer = setTimeout(() => {
        killProcessGroup(pid); // whatever the helper left behind in its group holding the pipes
        child.stdout.destroy();
        done(code);
      }, 500);
    });
  });
}
