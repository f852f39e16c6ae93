// Generated from package.json by scripts/gen-version.mjs (run by build): do not edit.
/** The version of @secrets-engine/plugin-keychain in its package.json. */
export const PACKAGE_VERSION = '0.1.0';
