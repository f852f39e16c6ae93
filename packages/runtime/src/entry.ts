// The one shape the engine keeps for every plugin, whatever started it: builtin (in-process),
// launched (the engine started it, fd 3) or external (started by hand, joined through /hijack).
// The coordinator (engine.ts) only ever talks to this interface.
import type { SecretPattern } from '@secrets-engine/secrets';
import type { RunStatus } from './launched.js';
import type { Provider } from './provider.js';

export type PluginKind = 'builtin' | 'launched' | 'external';

/** What the engine knows about one plugin. */
export interface PluginInfo {
  name: string;
  kind: PluginKind;
  version: string | undefined;
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
