module secrets-engine-interop/plugin-head

go 1.25.0

// HEAD protocol (plugins.v1). Docker's published SDK, imported, never copied.
require github.com/docker/secrets-engine/plugin v0.3.2
