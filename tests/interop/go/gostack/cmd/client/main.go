// gostack-client: a client of the engine socket on connect-go + net/http, configured the way
// protocol.md §10.2 describes Docker's client module (HTTP/1.1 keep-alive transport, base URL
// http://unix, dial errors → "secrets engine is not available", not_found → "secret not found").
// Written by us; it does NOT use Docker's client module (that is ../../client).
//
// Same command-line contract as ../../client (see tests/interop/README.md):
//
//	gostack-client -socket PATH get PATTERN | authorize PATTERN... | list | list-old | version
//
// prints one JSON object on stdout and exits 0, also for an error (reported as {"ok": false, ...}).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"connectrpc.com/connect"

	healthv1 "secrets-engine-interop/gostack/gen/health/v1"
	"secrets-engine-interop/gostack/gen/health/v1/healthv1connect"
	pluginsv1 "secrets-engine-interop/gostack/gen/plugins/v1"
	"secrets-engine-interop/gostack/gen/plugins/v1/pluginsv1connect"
	resolverv1 "secrets-engine-interop/gostack/gen/resolver/v1"
	"secrets-engine-interop/gostack/gen/resolver/v1/resolverv1connect"
)

var (
	errNotFound     = errors.New("secret not found")
	errNotAvailable = errors.New("secrets engine is not available")
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
		fmt.Fprintln(os.Stderr, "usage: gostack-client -socket PATH get PATTERN | authorize PATTERN... | list | list-old | version")
		os.Exit(2)
	}
	httpClient := &http.Client{Transport: &http.Transport{
		MaxConnsPerHost:     100,
		MaxIdleConnsPerHost: 10,
		IdleConnTimeout:     90 * time.Second,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", *socket)
		},
		ForceAttemptHTTP2: true,
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := dispatch(ctx, httpClient, args)
	if err != nil {
		code := ""
		if ce := new(connect.Error); errors.As(err, &ce) {
			code = ce.Code().String()
		}
		out = map[string]any{
			"ok":           false,
			"error":        err.Error(),
			"code":         code,
			"notFound":     errors.Is(err, errNotFound),
			"notAvailable": errors.Is(err, errNotAvailable),
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

func dispatch(ctx context.Context, c *http.Client, args []string) (map[string]any, error) {
	switch args[0] {
	case "get":
		if len(args) != 2 {
			return nil, errors.New("get needs a pattern")
		}
		res, err := resolverv1connect.NewResolverServiceClient(c, "http://unix").
			GetSecrets(ctx, connect.NewRequest(&resolverv1.GetSecretsRequest{Pattern: &args[1]}))
		if err != nil {
			return nil, wrap(err)
		}
		envs := []envelope{}
		for _, e := range res.Msg.GetEnvelopes() {
			envs = append(envs, envelope{
				ID: e.GetId(), Value: e.GetValue(), Provider: e.GetProvider(), Version: e.GetVersion(),
				Metadata:  e.GetMetadata(),
				CreatedAt: e.GetCreatedAt().AsTime().Format(time.RFC3339Nano), ResolvedAt: e.GetResolvedAt().AsTime().Format(time.RFC3339Nano),
				ExpiresAt: e.GetExpiresAt().AsTime().Format(time.RFC3339Nano),
			})
		}
		return map[string]any{"ok": true, "envelopes": envs}, nil
	case "authorize":
		if len(args) < 2 {
			return nil, errors.New("authorize needs at least one pattern")
		}
		res, err := resolverv1connect.NewAuthorizerServiceClient(c, "http://unix").
			Authorize(ctx, connect.NewRequest(&resolverv1.AuthorizeRequest{Patterns: args[1:]}))
		if err != nil {
			return nil, wrap(err)
		}
		return map[string]any{
			"ok":        true,
			"decision":  res.Msg.GetDecision().String(),
			"expiresAt": res.Msg.GetExpiresAt().AsTime().Format(time.RFC3339Nano),
		}, nil
	case "list":
		res, err := pluginsv1connect.NewPluginManagementServiceClient(c, "http://unix").
			ListPlugins(ctx, connect.NewRequest(&pluginsv1.ListPluginsRequest{}))
		if err != nil {
			return nil, wrap(err)
		}
		plugins := []plugin{}
		for _, p := range res.Msg.GetPlugins() {
			plugins = append(plugins, plugin{
				Name: p.GetName(), Version: p.GetVersion(), Pattern: p.GetSecretsProvider().GetPattern(),
				Disabled: p.GetDisabled(), External: p.GetExternal(), Configurable: p.GetConfigurable(),
				RunStatus: p.GetRunStatus().String(), StatusMessage: p.GetStatusMessage(),
			})
		}
		return map[string]any{"ok": true, "plugins": plugins}, nil
	case "list-old":
		res, err := resolverv1connect.NewListServiceClient(c, "http://unix").
			ListPlugins(ctx, connect.NewRequest(&resolverv1.ListPluginsRequest{}))
		if err != nil {
			return nil, wrap(err)
		}
		plugins := []plugin{}
		for _, p := range res.Msg.GetPlugins() {
			plugins = append(plugins, plugin{Name: p.GetName(), Version: p.GetVersion(), Pattern: p.GetPattern(), External: p.GetExternal()})
		}
		return map[string]any{"ok": true, "plugins": plugins}, nil
	case "version":
		res, err := healthv1connect.NewVersionServiceClient(c, "http://unix").
			GetVersion(ctx, connect.NewRequest(&healthv1.GetVersionRequest{}))
		if err != nil {
			return nil, wrap(err)
		}
		return map[string]any{"ok": true, "version": res.Msg.GetVersion(), "date": res.Msg.GetDate(), "commitHash": res.Msg.GetCommitHash()}, nil
	}
	return nil, fmt.Errorf("unknown command %q", args[0])
}

// wrap maps errors the way Docker's client does (§10.2): a failed dial is "not available",
// not_found is "secret not found".
func wrap(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && (oe.Op == "dial" || oe.Op == "connect") {
		return fmt.Errorf("%w: %w", errNotAvailable, err)
	}
	if connect.CodeOf(err) == connect.CodeNotFound {
		return fmt.Errorf("%w: %w", errNotFound, err)
	}
	return err
}
