// The demo (an engine with example plugins, driven through the `secrets-engine` CLI) comes with the
// CLI issue. Until then this says so plainly instead of pretending.
console.error('The demo is coming with the @secrets-engine/cli work: it is not available yet.');
console.error('What works today: `pnpm test` (all tests) and `pnpm bench` (the IPC benchmark).');
process.exit(1);
