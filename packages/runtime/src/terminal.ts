// Whether this process is in the foreground of its controlling terminal, for `secrets-engine run`
// (issue 16 item 1): the command it starts shares its process group, so a signal the terminal
// sends (Ctrl-C, Ctrl-\, Ctrl-Z, a hangup, a resize) already reaches the command, and forwarding
// it as well would deliver it twice.
import { closeSync, openSync } from 'node:fs';
import { libc } from './native.js';

/** The controlling terminal, kept open to ask about its foreground process group. */
export interface ControllingTerminal {
  /** Whether this process's group is the terminal's foreground group now. */
  isForeground(): boolean;
  close(): void;
}

/**
 * The controlling terminal of this process, or undefined when it has none (`/dev/tty` cannot be
 * opened: ENXIO) or when the platform gives no way to ask (no koffi: the reason is returned).
 */
export function openControllingTerminal(): ControllingTerminal | undefined | Error {
  const c = libc();
  if (c instanceof Error) return c;
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r');
  } catch {
    return undefined;
  }
  let open = true;
  return {
    isForeground: () => open && c.tcgetpgrp(fd) === c.getpgrp(),
    close: () => {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}
