// docker-client-old: a small CLI on Docker's Go client module as it was in tree fa7ff078 (the last
// tree with the Go engine; its client/ is tag client/v0.0.17), pointed at a secrets engine socket
// (ours, or Docker's own engine in docker-engine.test.ts). That client only resolves and lists
// (the OLD resolver.v1.ListService); it has no Version, Enable/Disable, Authorize, nor a
// not-available error. Command-line contract (tests/interop/README.md):
//
//	docker-client-old -socket PATH get PATTERN | get-raw PATTERN | list
//
// prints one JSON object on stdout and exits 0, also for an error (reported as {"ok": false, ...}).
// get-raw sends PATTERN unchecked, so an invalid pattern reaches the engine.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"connectrpc.com/connect"
	"github.com/docker/secrets-engine/client"
	"github.com/docker/secrets-engine/x/secrets"
)

type envelope struct {
	ID         string            `json:"id"`
	Value      []byte            `json:"value"`
	Provider   string            `json:"provider"`
	Version    string            `json:"version"`
	Metadata   map[string]string `json:"metadata"`
	CreatedAt  string            `json:"createdAt"`
	ResolvedAt string            `json:"resolvedAt"`
	ExpiresAt  string            `json:"expiresAt"`
}

type plugin struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Pattern  string `json:"pattern"`
	External bool   `json:"external"`
}

// rawPattern is a Pattern that was never validated.
type rawPattern string

func (p rawPattern) String() string                { return string(p) }
func (p rawPattern) Match(client.ID) bool          { return false }
func (p rawPattern) Includes(secrets.Pattern) bool { return false }

func main() {
	socket := flag.String("socket", "", "engine socket")
	flag.Parse()
	args := flag.Args()
	if *socket == "" || len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: docker-client-old -socket PATH get PATTERN | get-raw PATTERN | list")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := dispatch(ctx, *socket, args)
	if err != nil {
		code := ""
		if ce := new(connect.Error); errors.As(err, &ce) {
			code = ce.Code().String()
		}
		// This client has no ErrSecretsEngineNotAvailable: a dial error is what it returns.
		var oe *net.OpError
		notAvailable := errors.As(err, &oe) && oe.Op == "dial"
		out = map[string]any{
			"ok":             false,
			"error":          err.Error(),
			"code":           code,
			"notFound":       errors.Is(err, client.ErrSecretNotFound),
			"notAvailable":   notAvailable,
			"invalidPattern": errors.Is(err, secrets.ErrInvalidPattern),
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

func dispatch(ctx context.Context, socket string, args []string) (map[string]any, error) {
	c, err := client.New(client.WithSocketPath(socket))
	if err != nil {
		return nil, err
	}
	switch args[0] {
	case "get", "get-raw":
		if len(args) != 2 {
			return nil, errors.New("get needs a pattern")
		}
		var pattern client.Pattern = rawPattern(args[1])
		if args[0] == "get" {
			if pattern, err = client.ParsePattern(args[1]); err != nil {
				return nil, err
			}
		}
		envs, err := c.GetSecrets(ctx, pattern)
		if err != nil {
			return nil, err
		}
		out := []envelope{}
		for _, e := range envs {
			out = append(out, envelope{
				ID: fmt.Sprint(e.ID), Value: e.Value, Provider: e.Provider, Version: e.Version, Metadata: e.Metadata,
				CreatedAt: e.CreatedAt.UTC().Format(time.RFC3339Nano), ResolvedAt: e.ResolvedAt.UTC().Format(time.RFC3339Nano),
				ExpiresAt: e.ExpiresAt.UTC().Format(time.RFC3339Nano),
			})
		}
		return map[string]any{"ok": true, "envelopes": out}, nil
	case "list":
		infos, err := c.ListPlugins(ctx)
		if err != nil {
			return nil, err
		}
		out := []plugin{}
		for _, p := range infos {
			out = append(out, plugin{
				Name: fmt.Sprint(p.Name), Version: fmt.Sprint(p.Version), Pattern: fmt.Sprint(p.Pattern), External: p.External,
			})
		}
		return map[string]any{"ok": true, "plugins": out}, nil
	}
	return nil, fmt.Errorf("unknown command %q", args[0])
}
