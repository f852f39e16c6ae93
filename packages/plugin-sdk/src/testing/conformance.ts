// A conformance suite for plugin binaries: launches the plugin exactly as an engine does (fd 3 and
// DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG, protocol.md §1.2–§1.3) and checks the behaviour an engine
// relies on (§5.1, §6.4, §7.1). Framework-agnostic: returns a report, and throws if a check failed.
import type { ChildProcess } from 'node:child_process';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createSessionTransport, launchPlugin, type MuxSession } from '@secrets-engine/ipc';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { isValidId, match, parsePattern, parsePluginName, parseVersion } from '@secrets-engine/secrets';
import { attachEngine } from './engine.js';

export interface ConformanceOptions {
  /** The plugin executable (or `process.execPath` with the script in `args`). */
  command: string;
  args?: string[];
  /** The name the plugin is launched as. Default `conformance-plugin`. */
  name?: string;
  /** Extra environment (the launch variable is added). Default: PATH and HOME only. */
  env?: Record<string, string>;
  /** Patterns the plugin must resolve to at least one secret. */
  found?: string[];
  /** A pattern inside the plugin's own pattern that it must answer with not_found. */
  missing?: string;
  /** Registration timeout given to the plugin. Default 5 s. */
  registrationTimeoutMs?: number;
  /** Throw an error listing the failed checks. Default true. */
  throwOnFailure?: boolean;
}

export interface ConformanceCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ConformanceReport {
  ok: boolean;
  checks: ConformanceCheck[];
}

export class ConformanceError extends Error {
  override name = 'ConformanceError';
  readonly report: ConformanceReport;
  constructor(report: ConformanceReport) {
    const failed = report.checks.filter((c) => !c.ok);
    super(
      `plugin conformance: ${failed.length} check(s) failed:\n${failed.map((c) => `  ✗ ${c.name}: ${c.detail}`).join('\n')}`,
    );
    this.report = report;
  }
}

interface Launched {
  child: ChildProcess;
  session: MuxSession;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  registration: Promise<{ name: string; version: string; pattern: string }>;
  stderr: () => string;
}

function launch(options: ConformanceOptions, name: string): Launched {
  const env = options.env ?? {
    ...(process.env.PATH === undefined ? {} : { PATH: process.env.PATH }),
    ...(process.env.HOME === undefined ? {} : { HOME: process.env.HOME }),
  };
  const { child, socket } = launchPlugin({
    command: options.command,
    args: options.args ?? [],
    name,
    registrationTimeoutMs: options.registrationTimeoutMs ?? 5_000,
    env,
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 16_384) stderr += d.toString();
  });
  child.stdout?.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  // The shared fake engine, serving only plugins.v1 registration as a current engine does.
  const engine = attachEngine(socket, {
    serves: 'plugins.v1',
    engineName: 'conformance',
    engineVersion: 'v0.0.0',
  });
  const session = engine.session;
  const registration = engine.registration;
  return { child, session, exited, registration, stderr: () => stderr };
}

function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    }),
  ]);
}

/** Runs the suite. Each check is independent; every launched process is reaped before returning. */
export async function checkPluginConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const name = options.name ?? 'conformance-plugin';
  const checks: ConformanceCheck[] = [];
  const check = (checkName: string, ok: boolean, detail = '') => checks.push({ name: checkName, ok, detail });
  const children: ChildProcess[] = [];
  try {
    // 1. Registration, calls, Shutdown.
    const a = launch(options, name);
    children.push(a.child);
    const reg = await within(a.registration, (options.registrationTimeoutMs ?? 5_000) + 1_000);
    if (reg === 'timeout') {
      check(
        'registers within the timeout',
        false,
        `no RegisterPlugin call; stderr: ${a.stderr().trim() || '(empty)'}`,
      );
      return finish(checks, options);
    }
    check('registers within the timeout', true);
    check('registers with its launch name', reg.name === name, `registered as ${JSON.stringify(reg.name)}`);
    check(
      'registers a valid version',
      tryOk(() => parseVersion(reg.version)),
      reg.version,
    );
    check(
      'registers a valid pattern',
      tryOk(() => parsePattern(reg.pattern)),
      reg.pattern,
    );
    check(
      'registers a valid name',
      tryOk(() => parsePluginName(reg.name)),
      reg.name,
    );
    const client = createClient(resolverv1.ResolverService, createSessionTransport(a.session));
    const bad = await client
      .getSecrets({ pattern: 'a*b' }, { timeoutMs: 5_000 })
      .catch((e: unknown) => ConnectError.from(e));
    check(
      'an invalid pattern is invalid_argument',
      bad instanceof ConnectError && bad.code === Code.InvalidArgument,
      bad instanceof ConnectError ? `${Code[bad.code]}: ${bad.rawMessage}` : 'answered with secrets',
    );
    for (const pattern of options.found ?? []) {
      const res = await client
        .getSecrets({ pattern }, { timeoutMs: 10_000 })
        .catch((e: unknown) => ConnectError.from(e));
      if (res instanceof ConnectError) {
        check(`resolves ${pattern}`, false, `${Code[res.code]}: ${res.rawMessage}`);
        continue;
      }
      const bad = res.envelopes.filter(
        (e) => !isValidId(e.id) || !match(parsePattern(pattern), e.id as never),
      );
      check(`resolves ${pattern}`, res.envelopes.length > 0, `${res.envelopes.length} envelope(s)`);
      check(
        `envelopes for ${pattern} have valid IDs inside the pattern`,
        bad.length === 0,
        bad.map((e) => e.id).join(', '),
      );
    }
    if (options.missing !== undefined) {
      const res = await client
        .getSecrets({ pattern: options.missing }, { timeoutMs: 10_000 })
        .catch((e: unknown) => ConnectError.from(e));
      check(
        `answers not_found "secret not found" for ${options.missing}`,
        res instanceof ConnectError && res.code === Code.NotFound && res.rawMessage === 'secret not found',
        res instanceof ConnectError
          ? `${Code[res.code]}: ${res.rawMessage}`
          : `${res.envelopes.length} envelope(s)`,
      );
    }
    const shutdown = await createClient(pluginsv1.PluginService, createSessionTransport(a.session))
      .shutdown({}, { timeoutMs: 2_000 })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    check('answers Shutdown', shutdown === undefined, shutdown?.message ?? '');
    const exit = await within(a.exited, 5_000);
    check(
      'exits cleanly after Shutdown (within 5 s)',
      exit !== 'timeout' && (exit.code === 0 || exit.signal === 'SIGINT' || exit.signal === 'SIGTERM'),
      exit === 'timeout' ? 'still running' : `exit code ${exit.code}, signal ${exit.signal}`,
    );
    await a.session.close({ timeoutMs: 100 });

    // 2. A launched plugin never outlives its engine.
    const b = launch(options, name);
    children.push(b.child);
    await within(b.registration, (options.registrationTimeoutMs ?? 5_000) + 1_000);
    b.session.abort();
    const orphan = await within(b.exited, 3_000);
    check(
      'exits within 3 s when the engine connection closes',
      orphan !== 'timeout',
      orphan === 'timeout' ? 'still running' : '',
    );
  } finally {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    }
  }
  return finish(checks, options);
}

function tryOk(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

function finish(checks: ConformanceCheck[], options: ConformanceOptions): ConformanceReport {
  const report = { ok: checks.every((c) => c.ok), checks };
  if (!report.ok && options.throwOnFailure !== false) throw new ConformanceError(report);
  return report;
}
