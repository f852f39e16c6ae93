#!/usr/bin/env bash
# Regenerates gen/ from the repo's proto/ with the pinned Go plugins (run from anywhere).
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
#   go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.19.1
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
export PATH="$(go env GOPATH)/bin:$PATH"
cd "$root"
rm -rf "$here/gen"
"$root/packages/proto/node_modules/.bin/buf" generate --template "$here/buf.gen.yaml"
