import { fileURLToPath } from 'node:url';

/** The Go module of this package. */
export const GO_DIR = fileURLToPath(new URL('../go', import.meta.url));
/** Where build-go.ts puts the binaries (git-ignored). */
export const GO_BIN_DIR = fileURLToPath(new URL('../go/bin', import.meta.url));
export const GO_ENGINE_BIN = `${GO_BIN_DIR}/go-engine`;
export const YAMUX_PEER_BIN = `${GO_BIN_DIR}/yamux-peer`;
/** Our SDK plugin that the Go engine runs. */
export const PLUGIN_FIXTURE = fileURLToPath(new URL('../fixtures/sdk-plugin.mjs', import.meta.url));
