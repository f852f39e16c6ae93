// Signalling a launched process together with everything it started (protocol.md §7.5, §0 "No
// orphans"): launchPlugin makes each plugin the leader of its own process group, and a plugin that
// runs helpers (a password manager's CLI, say) can start them as group leaders the same way.
import type { ChildProcess } from 'node:child_process';

/**
 * Sends `signal` (default SIGKILL) to the process group led by `target` (a child process or a
 * pid). When there is no such group (the child was not started as a leader, or the group is gone)
 * a ChildProcess is signalled alone. Returns whether a signal was delivered; never throws.
 */
export function killProcessGroup(
  target: ChildProcess | number | undefined,
  signal: NodeJS.Signals = 'SIGKILL',
): boolean {
  const pid = typeof target === 'number' ? target : target?.pid;
  if (pid === undefined || pid <= 0) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    if (typeof target !== 'object') return false;
    try {
      return target.kill(signal);
    } catch {
      return false; // already gone
    }
  }
}
