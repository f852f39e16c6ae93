// The benchmark's child process, launched by main.ts with launchPlugin (a socketpair on fd 3).
// Modes (SE_BENCH_MODE):
// - raw-echo: echoes every byte of the launch channel;
// - raw-sink: reads the channel and acknowledges every SE_BENCH_BULK_BYTES bytes;
// - mux: runs a yamux session (plugin side, client role) on the channel, serves Connect on it and
//   on a plain unix socket, and opens two streams of its own: an echo stream and a sink stream.
// Every mode exits as soon as the parent closes the channel.
import { createServer } from 'node:http';
import { createMuxSession, openLaunchChannel } from '@secrets-engine/ipc';
import { createAccessControlModule } from '@secrets-engine/plugin-sdk';
import { createEngine } from '@secrets-engine/runtime';
import { benchRoutes, type ServerName, servers } from './cases.js';
import {
  type AccessVariant,
  type ChildMode,
  ENV_ACCESS,
  ENV_BULK_BYTES,
  ENV_MODE,
  ENV_SERVER,
  ENV_UNIX_PATH,
  echo,
  READY,
  SECRET_PATTERN,
  SECRET_VALUE,
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
  case 'engine': {
    // A real engine on a unix socket with one builtin provider; READY once it (and its module) is up.
    const unixPath = process.env[ENV_UNIX_PATH];
    const access = process.env[ENV_ACCESS] as AccessVariant | undefined;
    if (unixPath === undefined) fail(`${ENV_UNIX_PATH} is not set`);
    if (access !== 'open' && access !== 'default' && access !== 'module')
      fail(`unknown ${ENV_ACCESS} ${access}`);
    const engine = createEngine({
      socketPath: unixPath,
      launchPlugins: false,
      plugins: [
        {
          name: 'bench',
          version: 'v1.0.0',
          pattern: 'bench/**',
          getSecrets: () => [{ id: SECRET_PATTERN, value: SECRET_VALUE }],
        },
      ],
      ...(access === 'open' ? { access: { policy: () => true } } : {}),
    });
    await engine.start();
    const stop = () => void engine.close().finally(exitWhenClosed);
    socket.on('error', () => {});
    socket.on('close', stop);
    if (access === 'module') {
      const module = createAccessControlModule({
        name: 'bench-acm',
        version: 'v1.0.0',
        socketPath: unixPath,
        checkAccess: () => true,
        env: {}, // not the child's launch variable: this module dials the engine's socket
      });
      void module.serve({ handleSignals: false });
      while (engine.accessModules().length === 0) await new Promise((r) => setTimeout(r, 10));
    }
    socket.write(Buffer.of(READY));
    break;
  }
  default:
    fail(`unknown ${ENV_MODE} ${String(mode)}`);
}
