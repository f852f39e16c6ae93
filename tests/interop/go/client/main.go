// docker-client: a small CLI on Docker's published Go client module
// github.com/docker/secrets-engine/client (protocol.md §10.2), pointed at OUR engine socket.
// Built against the vendored workspace of Docker's tree e3231b00 (client/ newer than tag
// client/v0.0.30, plugin SDK v0.3.2; see tests/interop/README.md). Same command-line contract as
// gostack/cmd/client:
//
//	docker-client -socket PATH get PATTERN | get-raw PATTERN | list | version |
//	              enable NAME | disable NAME | authorize PATTERN...
//
// get-raw sends PATTERN unchecked (a Pattern of ours that skips client.ParsePattern), so an invalid
// pattern reaches the engine and the engine's answer is what the client reports.
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
	"github.com/docker/secrets-engine/x/secrets"
)

// rawPattern is a Pattern that was never validated: what a client with a bug, or an older parser,
// would send.
type rawPattern string

func (p rawPattern) String() string                { return string(p) }
func (p rawPattern) Match(client.ID) bool          { return false }
func (p rawPattern) Includes(secrets.Pattern) bool { return false }
func (p rawPattern) ExpandID(id secrets.ID) (secrets.ID, error) {
	return nil, errors.New("rawPattern cannot expand")
}
func (p rawPattern) ExpandPattern(secrets.Pattern) (secrets.Pattern, error) {
	return nil, errors.New("rawPattern cannot expand")
}

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
		fmt.Fprintln(os.Stderr, "usage: docker-client -socket PATH get PATTERN | get-raw PATTERN | list | version | enable NAME | disable NAME | authorize PATTERN...")
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
			"ok":             false,
			"error":          err.Error(),
			"code":           code,
			"notFound":       errors.Is(err, client.ErrSecretNotFound),
			"notAvailable":   errors.Is(err, client.ErrSecretsEngineNotAvailable),
			"accessDenied":   errors.Is(err, client.ErrAccessDenied),
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
	case "enable", "disable":
		if len(args) != 2 {
			return nil, fmt.Errorf("%s needs a plugin name", args[0])
		}
		m, err := client.PluginManagementFromClient(c)
		if err != nil {
			return nil, err
		}
		if args[0] == "enable" {
			err = m.EnablePlugin(ctx, args[1])
		} else {
			err = m.DisablePlugin(ctx, args[1])
		}
		if err != nil {
			return nil, err
		}
		return map[string]any{"ok": true}, nil
	case "authorize":
		var patterns []client.Pattern
		for _, a := range args[1:] {
			p, err := client.ParsePattern(a)
			if err != nil {
				return nil, err
			}
			patterns = append(patterns, p)
		}
		resp, err := c.Authorize(ctx, patterns...)
		if err != nil {
			return nil, err
		}
		decision := "DECISION_DENY"
		if resp.Allow {
			decision = "DECISION_ALLOW"
		}
		return map[string]any{"ok": true, "decision": decision, "expiresAt": resp.Expiry.UTC().Format(time.RFC3339Nano)}, nil
	case "version":
		v, err := c.Version(ctx)
		if err != nil {
			return nil, err
		}
		return map[string]any{"ok": true, "version": fmt.Sprint(v.Version), "date": v.Date, "commitHash": v.CommitHash}, nil
	}
	return nil, fmt.Errorf("unknown command %q", args[0])
}
