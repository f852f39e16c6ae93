// The benchmark's child process, launched by main.ts with launchPlugin (a socketpair on fd 3).
// Modes (SE_BENCH_MODE):
// - raw-echo: echoes every byte of the launch channel;
// - raw-sink: reads the channel and acknowledges every SE_BENCH_BULK_BYTES bytes;
// - mux: runs a yamux session (plugin side, client role) on the channel, serves Connect on it and
//   on a plain unix socket, and opens two streams of its own: an echo stream and a sink stream.
// Every mode exits as soon as the parent closes the channel.
import { createServer } from 'node:http';
import { createMuxSession, openLaunchChannel } from '@secrets-engine/ipc';
import { benchRoutes, type ServerName, servers } from './cases.js';
import {
  type ChildMode,
  ENV_BULK_BYTES,
  ENV_MODE,
  ENV_SERVER,
  ENV_UNIX_PATH,
  echo,
  READY,
  STREAM_ECHO,
  STREAM_SINK,
  sink,
  tuningFromEnv,
} from './wire.js';

function fail(message: string): never {
  console.error(`bench child: ${message}`);
  process.exit(2);
}

const channel = openLaunchChannel();
if (channel === undefined) fail('not launched by the benchmark (no launch channel)');
const { socket } = channel;
const mode = process.env[ENV_MODE] as ChildMode | undefined;
const bulkBytes = Number(process.env[ENV_BULK_BYTES] ?? '0');

function exitWhenClosed(): void {
  process.exit(0);
}

switch (mode) {
  case 'raw-echo': {
    socket.on('error', () => {});
    socket.on('close', exitWhenClosed);
    echo(socket);
    socket.write(Buffer.of(READY));
    break;
  }
  case 'raw-sink': {
    if (!(bulkBytes > 0)) fail(`${ENV_BULK_BYTES} must be a positive number`);
    socket.on('error', () => {});
    socket.on('close', exitWhenClosed);
    sink(socket, bulkBytes);
    socket.write(Buffer.of(READY));
    break;
  }
  case 'mux': {
    const serverName = process.env[ENV_SERVER] as ServerName | undefined;
    const unixPath = process.env[ENV_UNIX_PATH];
    if (serverName === undefined || !(serverName in servers)) fail(`unknown server variant ${serverName}`);
    if (unixPath === undefined) fail(`${ENV_UNIX_PATH} is not set`);
    if (!(bulkBytes > 0)) fail(`${ENV_BULK_BYTES} must be a positive number`);
    const variant = servers[serverName];

    const session = createMuxSession(socket, { role: 'client', ...tuningFromEnv(process.env) });
    session.closed.then(exitWhenClosed, exitWhenClosed);
    variant.yamux(session, benchRoutes);

    const http = createServer(variant.unix(benchRoutes));
    // The same idle policy as serveConnect's server.
    http.keepAliveTimeout = 5_000;
    http.requestTimeout = 0;
    http.on('clientError', (_err, s) => s.destroy());
    http.listen(unixPath, () => {
      // Opening the two raw streams is the "ready" signal: the unix listener is up by now.
      const echoStream = session.open();
      echoStream.on('error', () => {});
      echoStream.write(Buffer.of(STREAM_ECHO));
      echo(echoStream);
      const sinkStream = session.open();
      sinkStream.on('error', () => {});
      sinkStream.write(Buffer.of(STREAM_SINK));
      sink(sinkStream, bulkBytes);
    });
    break;
  }
  default:
    fail(`unknown ${ENV_MODE} ${String(mode)}`);
}
