module secrets-engine-interop/plugin-old

go 1.25.0

// OLD protocol (resolver.v1 RegisterService / PluginService). Same module path as plugin-head,
// hence a module of its own.
require github.com/docker/secrets-engine/plugin v0.0.21
