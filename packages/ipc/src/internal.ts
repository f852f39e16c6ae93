/**
 * The parts of @secrets-engine/ipc that only the other secrets-engine packages use (the runtime,
 * the plugin SDK, the benchmark and our tests): wire constants, the launch variable's codec, the
 * raw upgrade, the lean path's knobs. Not covered by semver: every package that imports this
 * subpath depends on this package's exact version (as connect-es marks its private symbols).
 *
 * @packageDocumentation
 */

export { nodeChildProcess } from './builtins.js';
export {
  HIJACK_REQUEST,
  HIJACK_RESPONSE,
  upgradeSocket,
} from './launch/hijack.js';
export {
  encodeLaunchConfig,
  LAUNCH_ENV,
  LAUNCH_FD,
  type LaunchConfig,
  parseLaunchConfig,
} from './launch/launch.js';
export { resolveSessionInit, SESSION_DEFAULTS } from './mux/config.js';
export {
  DEFAULT_READ_MAX_BYTES,
  healthOr404,
  IPC_BASE_URL,
  isTransportLoss,
  SMALL_REQUEST_MAX_BYTES,
  transportLossIsUnavailable,
} from './rpc/connect.js';
export { createSocketTransport, type SocketTransportOptions } from './rpc/socket-transport.js';
export { type LeanStream, type LeanStreamOpener, RESPONSE_HEADER_VALUE } from './rpc/unary-client.js';
export { requestHeaderValue } from './rpc/unary-handler.js';
