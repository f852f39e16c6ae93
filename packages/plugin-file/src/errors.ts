// Errors of @secrets-engine/plugin-file: named classes with a Symbol.for brand (cross-copy checks).
// None of them ever carries a secret value: they name files, keys, lines and modes.

const BRAND = Symbol.for('@secrets-engine/plugin-file.error');

export class FileProviderError extends Error {
  static {
    FileProviderError.prototype.name = 'FileProviderError';
  }
  readonly [BRAND] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `instanceof X` must see the class X it was called on
    return branded(value, this, FileProviderError);
  }
}

/** The configuration (options, flags, environment or config file) is missing or invalid. */
export class ConfigError extends FileProviderError {
  static {
    ConfigError.prototype.name = 'ConfigError';
  }
}

/**
 * The secrets file or folder (or a file in the folder) may be read or written by other users:
 * refused, with the path, the mode and the command that fixes it.
 */
export class InsecureModeError extends FileProviderError {
  static {
    InsecureModeError.prototype.name = 'InsecureModeError';
  }
  readonly path: string;
  /** The permission bits found (`0o644`). */
  readonly mode: number;
  constructor(path: string, mode: number, kind: 'file' | 'folder') {
    const fix = kind === 'file' ? `chmod 600 ${path}` : `chmod 700 ${path}`;
    super(
      `refusing secrets ${kind} ${path}: mode ${octal(mode)} lets other users ${
        mode & 0o044 ? 'read' : 'write'
      } it; allowed: no permission for group and others (fix: ${fix})`,
    );
    this.path = path;
    this.mode = mode;
  }
}

/**
 * The secrets cannot be served: the file is missing or unreadable, not a file, too large, or does
 * not parse (the message names the file and the position or line, never its text).
 */
export class SecretsSourceError extends FileProviderError {
  static {
    SecretsSourceError.prototype.name = 'SecretsSourceError';
  }
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
  }
}

export function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/** `instanceof` across package copies: the brand, then the root class, the literal name or the prototype chain. */
function branded(value: unknown, cls: { prototype: Error }, root: { prototype: Error }): boolean {
  if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[BRAND] !== true)
    return false;
  return (
    cls === root ||
    (value as Error).name === cls.prototype.name ||
    Object.prototype.isPrototypeOf.call(cls.prototype, value)
  );
}
