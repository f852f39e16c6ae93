/**
 * Shared rules for the other secrets-engine packages, not for applications: nothing here is
 * covered by semver. Every package that imports it depends on this package's exact version.
 *
 * @packageDocumentation
 */
export {
  checkSocketFolder,
  type SocketFolderFs,
  type SocketFolderOptions,
  type SocketFolderStat,
  type SocketFolderStatus,
} from './socket-folder.js';
export { dialFailureReason, isAbstractSocketPath, NO_SUCH_SOCKET, toNetPath } from './socket-path.js';
