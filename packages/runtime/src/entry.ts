// The one shape the engine keeps for every plugin, whatever started it: builtin (in-process),
// launched (the engine started it, fd 3) or external (started by hand, joined through /hijack).
// The coordinator (engine.ts) only ever talks to this interface. A launched or external plugin may
// have registered as an access-control module instead of a secrets provider: then it has an
// `accessModule` and never a `provider`, so it never enters resolution.
import type { SecretPattern } from '@secrets-engine/secrets';
import type { AccessModule } from './access-module.js';
import type { RunStatus } from './launched.js';
import type { Provider } from './provider.js';
import type { PluginRole } from './registration.js';

export type PluginKind = 'builtin' | 'launched' | 'external';

/** What the engine knows about one plugin. */
export interface PluginInfo {
  name: string;
  kind: PluginKind;
  version: string | undefined;
  /** What it registered as (Docker's `Plugin.metadata` oneof); undefined until it has registered. */
  role: PluginRole | undefined;
  /** A secrets provider's pattern; undefined for an access-control module and before registration. */
  pattern: SecretPattern | undefined;
  disabled: boolean;
  status: RunStatus;
  /** Readable reason for crashed and retries-exceeded (and stopped) states. */
  statusMessage: string;
  restarts: number;
  pid: number | undefined;
}

export interface PluginEntry {
  readonly name: string;
  readonly kind: PluginKind;
  /** What answers requests; undefined while the plugin cannot (not registered, stopped, disabled). */
  readonly provider: Provider | undefined;
  /** An access-control module, while it can answer (registered as one, running, enabled). */
  readonly accessModule: AccessModule | undefined;
  info(): PluginInfo;
  /** Stops it for good (engine shutdown), every step bounded; resolves once it is gone. */
  stop(reason: string): Promise<void>;
  /** Takes it back into resolution (a launched plugin starts again). False when nothing changed. */
  enable(): Promise<boolean>;
  /** Takes it out of resolution (a launched plugin is stopped). False when it already was. */
  disable(): Promise<boolean>;
}

/** Sorts by name, as ListPlugins answers. */
export function byName(a: PluginInfo, b: PluginInfo): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
