module secrets-engine-interop/client

go 1.25.0

// The newest version known to exist (pinned next to plugin v0.3.2 by a dependent); the proxy
// refused to list versions when this was written, see tests/interop/README.md.
require github.com/docker/secrets-engine/client v0.1.2
