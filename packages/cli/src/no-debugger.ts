// No signal, option or environment may open a debugger in the engine's processes (issue 12 item
// 1): a debugger port lets any local user run code inside the engine and read every secret. This
// module is the executable's first import, so it runs before anything else:
// - SIGUSR1 would start Node's inspector on 127.0.0.1:9229; a listener replaces that handler (Node
//   20 has no --disable-sigusr1), and the signal is ignored;
// - an inspector already open (--inspect in NODE_OPTIONS or on the command line) is closed and the
//   program refuses to go on.
import { createRequire } from 'node:module';

process.on('SIGUSR1', () => {
  // ignored: never a debugger
});

let url: string | undefined;
try {
  const inspector = createRequire(import.meta.url)('node:inspector') as typeof import('node:inspector');
  url = inspector.url();
  if (url !== undefined) inspector.close();
} catch {
  // a Node built without the inspector: nothing can open one
}
if (url !== undefined) {
  process.stderr.write(
    'secrets-engine: refusing to run with a debugger open (--inspect in NODE_OPTIONS or the node flags): any local user could read secrets through it\n',
  );
  process.exit(1);
}
