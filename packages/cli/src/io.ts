// Where commands print. Plain writes to the process streams (library code never uses console).
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Bytes to stdout exactly as given (`read`, `inject`: values need not be UTF-8). */
  outBytes(bytes: Uint8Array): void;
  /** The terminal behind stdout or stderr (its width in columns), or undefined when it is not one. */
  terminal(stream: 'stdout' | 'stderr'): { columns: number } | undefined;
}

export const processIo: Io = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  outBytes: (bytes) => void process.stdout.write(bytes),
  terminal: (stream) => {
    const s = stream === 'stdout' ? process.stdout : process.stderr;
    // A width of 0 (some pseudo-terminals before a size is set) counts as the classic 80.
    return s.isTTY ? { columns: s.columns || 80 } : undefined;
  },
};
