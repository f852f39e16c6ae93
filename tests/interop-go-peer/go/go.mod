module github.com/secrets-engine/secrets-engine-ts/tests/interop-go-peer/go

go 1.25

require (
	connectrpc.com/connect v1.19.1
	github.com/hashicorp/yamux v0.1.2
	google.golang.org/protobuf v1.36.11
)
