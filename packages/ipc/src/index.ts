/**
 * One socket per plugin: the fd-3 launch channel, the /hijack upgrade, yamux sessions and
 * Connect-RPC in both directions, wire-compatible with Docker's Go secrets-engine.
 *
 * Three layers, one folder each: `launch/` (how a plugin gets its socket), `mux/` (yamux over
 * it), `rpc/` (Connect over yamux streams). The subpath `@secrets-engine/ipc/internal` holds
 * what only the other secrets-engine packages use.
 *
 * @packageDocumentation
 */
export {
  DialError,
  IpcError,
  isIpcError,
  LaunchConfigError,
  LaunchError,
  ProtocolViolationError,
  SessionBufferLimitError,
  SessionClosedError,
  SessionConfigError,
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
  type HijackHandlerOptions,
} from './launch/hijack.js';
export {
  type LaunchedProcess,
  type LaunchOptions,
  launchPlugin,
  openLaunchChannel,
} from './launch/launch.js';
export { killProcessGroup } from './launch/process-group.js';
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
  type NodeHandler,
  type ServeConnectOptions,
  type SessionTransportOptions,
  serveConnect,
} from './rpc/connect.js';
