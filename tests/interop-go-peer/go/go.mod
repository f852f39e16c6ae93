module github.com/secrets-engine/secrets-engine-ts/tests/interop-go-peer/go

go 1.25.0

require (
	connectrpc.com/connect v1.19.1
	github.com/hashicorp/yamux v0.1.2
	google.golang.org/protobuf v1.36.11
)

// The Go protobuf and connect-go types are generated once, in the interop package's gostack module.
require secrets-engine-interop/gostack v0.0.0

replace secrets-engine-interop/gostack => ../../interop/go/gostack
