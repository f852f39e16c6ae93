// The bin's first import: SIGUSR1 would open Node's inspector on 127.0.0.1:9229, a port any local
// user can attach to and read the secrets this process holds. The SDK ignores it while serving;
// this covers the time before (the first read of the secrets happens before `serve()`).
process.on('SIGUSR1', () => {
  // ignored: never a debugger
});
