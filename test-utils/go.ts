// The Go toolchain of the suites that build Go peers (tests/interop, tests/interop-go-peer).
import { spawnSync } from 'node:child_process';

/** The go command: $GO, else `go` on PATH, else /usr/local/go/bin/go. Undefined if none works. */
export function findGo(): { go: string; version: string } | undefined {
  for (const go of goCandidates()) {
    const res = spawnSync(go, ['version'], { encoding: 'utf8' });
    if (res.status === 0) return { go, version: res.stdout.trim() };
  }
  return undefined;
}

/** What findGo tries, in order (for messages). */
export function goCandidates(): string[] {
  return [process.env.GO, 'go', '/usr/local/go/bin/go'].filter(
    (c): c is string => c !== undefined && c !== '',
  );
}
