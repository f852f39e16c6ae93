#!/usr/bin/env bash
# Regenerates gen/ (Go types and connect-go stubs for plugins.v1 and resolver.v1) from the root
# proto/ folder, with the same buf the TS packages use. The output is committed; the Go build
# does not need this script.
set -euo pipefail
cd "$(dirname "$0")"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
GOBIN="$bin" go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
GOBIN="$bin" go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.19.1
PATH="$bin:$PATH" ../../../packages/proto/node_modules/.bin/buf generate --template buf.gen.yaml
