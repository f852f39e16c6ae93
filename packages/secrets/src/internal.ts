/**
 * Shared rules for the other secrets-engine packages, not for applications: nothing here is
 * covered by semver. Every package that imports it depends on this package's exact version.
 *
 * @packageDocumentation
 */
export { dialFailureReason, isAbstractSocketPath, toNetPath } from './socket-path.js';
