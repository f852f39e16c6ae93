module secrets-engine-interop/gostack

go 1.25.0

require (
	connectrpc.com/connect v1.19.1
	github.com/hashicorp/yamux v0.1.2
	google.golang.org/protobuf v1.36.11
)
