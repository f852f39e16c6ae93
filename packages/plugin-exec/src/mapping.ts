// Helper keys (server URLs) ↔ secret IDs. A key becomes `<mount>/<key>` after two normalisations,
// `https://` dropped in front and `/` dropped at the end, if the result is a valid ID:
//   ghcr.io                      → docker-credentials/ghcr.io
//   registry.example.com:5000    → docker-credentials/registry.example.com:5000
//   https://index.docker.io/v1/  → docker-credentials/index.docker.io/v1
//   http://localhost:5000        → (skipped: "http:" followed by an empty component)
// The way back goes through the helper's `list`: an ID names the listed key it came from. When
// two listed keys give the same ID, the key written exactly as the ID wins (else the first in sort
// order) and the other is skipped, so every ID names exactly one key.
import { isValidId, type SecretId } from '@secrets-engine/plugin-sdk';

/** The ID suffix of a helper key, or undefined if the key does not fit the ID grammar. */
export function keyToPath(key: string): string | undefined {
  let path = key.startsWith('https://') ? key.slice('https://'.length) : key;
  while (path.endsWith('/')) path = path.slice(0, -1);
  return isValidId(path) ? path : undefined;
}

export interface MappedKey {
  id: SecretId;
  /** The helper's key (what `get` reads on stdin). */
  key: string;
  /** The username `list` reported. */
  username: string;
}

export interface Mapping {
  keys: MappedKey[];
  /** Keys that cannot be served, with the reason (no secret in here: keys and usernames only). */
  skipped: { key: string; reason: string }[];
}

/** Maps the output of `list` (`{serverURL: username}`) under `mount` (`docker-credentials`). */
export function mapKeys(list: Readonly<Record<string, string>>, mount: string): Mapping {
  const byId = new Map<string, MappedKey>();
  const skipped: Mapping['skipped'] = [];
  for (const key of Object.keys(list).sort()) {
    const path = keyToPath(key);
    const id = path === undefined ? undefined : mount === '' ? path : `${mount}/${path}`;
    if (id === undefined || !isValidId(id)) {
      skipped.push({ key, reason: 'not a valid secret ID, even without https:// and a trailing /' });
      continue;
    }
    const entry: MappedKey = { id, key, username: list[key] ?? '' };
    const previous = byId.get(id);
    if (previous === undefined) {
      byId.set(id, entry);
    } else if (key === path && previous.key !== path) {
      byId.set(id, entry);
      skipped.push({ key: previous.key, reason: `same ID as ${JSON.stringify(key)}, which wins` });
    } else {
      skipped.push({ key, reason: `same ID as ${JSON.stringify(previous.key)}, which wins` });
    }
  }
  return { keys: [...byId.values()], skipped };
}
