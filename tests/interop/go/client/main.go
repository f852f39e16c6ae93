// docker-client: a small CLI on Docker's published Go client module
// github.com/docker/secrets-engine/client (protocol.md §10.2), pointed at OUR engine socket.
// Same command-line contract as gostack/cmd/client (see tests/interop/README.md):
//
//	docker-client -socket PATH get PATTERN | list | version
//
// prints one JSON object on stdout and exits 0, also for an error (reported as {"ok": false, ...}).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"connectrpc.com/connect"
	"github.com/docker/secrets-engine/client"
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
	Name          string `json:"name"`
	Version       string `json:"version"`
	Pattern       string `json:"pattern"`
	Disabled      bool   `json:"disabled"`
	External      bool   `json:"external"`
	Configurable  bool   `json:"configurable"`
	RunStatus     string `json:"runStatus"`
	StatusMessage string `json:"statusMessage"`
}

func main() {
	socket := flag.String("socket", "", "engine socket")
	flag.Parse()
	args := flag.Args()
	if *socket == "" || len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: docker-client -socket PATH get PATTERN | list | version")
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
		out = map[string]any{
			"ok":           false,
			"error":        err.Error(),
			"code":         code,
			"notFound":     errors.Is(err, client.ErrSecretNotFound),
			"notAvailable": errors.Is(err, client.ErrSecretsEngineNotAvailable),
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
	case "get":
		if len(args) != 2 {
			return nil, errors.New("get needs a pattern")
		}
		pattern, err := client.ParsePattern(args[1])
		if err != nil {
			return nil, err
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
		m, err := client.PluginManagementFromClient(c)
		if err != nil {
			return nil, err
		}
		infos, err := m.ListPlugins(ctx)
		if err != nil {
			return nil, err
		}
		out := []plugin{}
		for _, p := range infos {
			pattern := ""
			if p.SecretsProvider != nil {
				pattern = fmt.Sprint(p.SecretsProvider.Pattern)
			}
			out = append(out, plugin{
				Name: fmt.Sprint(p.Name), Version: fmt.Sprint(p.Version), Pattern: pattern,
				Disabled: p.Disabled, External: p.External, Configurable: p.Configurable,
				RunStatus: fmt.Sprint(p.RunStatus), StatusMessage: p.StatusMessage,
			})
		}
		return map[string]any{"ok": true, "plugins": out}, nil
	case "version":
		v, err := c.Version(ctx)
		if err != nil {
			return nil, err
		}
		return map[string]any{"ok": true, "version": fmt.Sprint(v.Version), "date": v.Date, "commitHash": v.CommitHash}, nil
	}
	return nil, fmt.Errorf("unknown command %q", args[0])
}
