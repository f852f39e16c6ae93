// Size limits of IDs, patterns, plugin names and versions (issue 12 item 7). Go has none; without
// them one request or registration could carry a megabyte-long name (a megabyte-long log line) or a
// 60,000-component pattern (matched against another in O(n²): 18 s with the event loop blocked).
// Checked first, in O(1) for the length, before any character is looked at; the values and why
// are in docs/security.md ("Limits") and docs/decisions.md.

/**
 * The longest secret ID or pattern, in characters (the grammar is ASCII, so also in bytes): twice
 * the longest secret name of the cloud secret managers (AWS Secrets Manager: 512).
 */
export const MAX_ID_LENGTH = 1024;

/** The most `/`-separated components of a secret ID or pattern. */
export const MAX_ID_COMPONENTS = 64;

/** The longest plugin name, in UTF-8 bytes. */
export const MAX_PLUGIN_NAME_BYTES = 128;

/** The longest plugin version, in characters (the grammar is ASCII, so also in bytes). */
export const MAX_VERSION_LENGTH = 128;

/** The number of bytes of `s` in UTF-8 (a lone surrogate counts as U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
