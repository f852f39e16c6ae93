/**
 * One socket per plugin: the fd-3 launch channel, the /hijack upgrade, yamux sessions and
 * Connect-RPC in both directions, wire-compatible with Docker's Go secrets-engine.
 *
 * @packageDocumentation
 */

export {
  DialError,
  IpcError,
  isIpcError,
  LaunchConfigError,
  SessionClosedError,
  StreamResetError,
  TimeoutError,
  TransportClosedError,
  UnsupportedPlatformError,
  UpgradeError,
} from './errors.js';
export {
  attachHijackHandler,
  type DialOptions,
  dialAndUpgrade,
  dialUnix,
  HIJACK_REQUEST,
  HIJACK_RESPONSE,
  type HijackHandlerOptions,
  toNetPath,
  upgradeSocket,
} from './launch/hijack.js';
export {
  encodeLaunchConfig,
  LAUNCH_ENV,
  LAUNCH_FD,
  type LaunchConfig,
  type LaunchedProcess,
  type LaunchOptions,
  type LaunchTransport,
  launchPlugin,
  launchTransport,
  openLaunchChannel,
  parseLaunchConfig,
} from './launch/launch.js';
export { type Logger, silentLogger } from './logger.js';
export type { MuxStream } from './mux/mux-stream.js';
export {
  type CloseOptions,
  createMuxSession,
  type MuxSession,
  type MuxSessionInit,
  type OpenOptions,
  type SessionCloseReason,
  type SessionRole,
} from './mux/session.js';
export {
  type ConnectHandlerOptions,
  type ConnectServer,
  createConnectHandler,
  createSessionTransport,
  DEFAULT_READ_MAX_BYTES,
  IPC_BASE_URL,
  isTransportLoss,
  type NodeHandler,
  type ServeConnectOptions,
  type SessionTransportOptions,
  serveConnect,
  transportLossIsUnavailable,
} from './rpc/connect.js';
