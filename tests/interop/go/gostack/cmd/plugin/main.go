// gostack-plugin: a secrets-provider plugin (or, with INTEROP_KIND, an access-control module) on the Go stack Docker's SDK uses (hashicorp/yamux
// v0.1.2, net/http, connect-go, Go protobuf), speaking the HEAD (plugins.v1) or OLD (resolver.v1)
// registration protocol. Written by us from protocol.md; it does NOT use Docker's SDK.
//
// Same environment contract as the Docker-SDK plugins in ../../plugin-head and ../../plugin-old
// (see tests/interop/README.md):
//
//	DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG  set by the engine when it launches the plugin (fd 3)
//	INTEROP_SOCKET     manual launch: the engine socket to dial and hijack
//	INTEROP_NAME       manual launch: the name to register (default: the binary's base name)
//	INTEROP_PROTOCOL   head (default) or old
//	INTEROP_KIND       access-control: register as an access-control module (HEAD only; go-stack only)
//	                   and serve AccessControlService with the rules of Docker's handler (§10.1):
//	                   allow a pattern under allowed/ for a requester whose name is INTEROP_ALLOW
//	                   (any name when unset); Authorize allows until 2030-01-02T03:04:05Z
//	INTEROP_VERSION    the plugin version (default v0.0.1)
//	INTEROP_PATTERN    the registered pattern (default go/**)
//	INTEROP_SECRETS    JSON [{id, value (base64), version, metadata, createdAt, expiresAt}]
//	INTEROP_SECRETS_FILE  the same JSON from a file (values beyond the 128 KiB env limit)
//	INTEROP_ERROR_ON   a request pattern answered with a plain (non not-found) error
//	INTEROP_PID_DIR    if set: writes <pid> at start, <pid>.exit ("<code> <reason>") at exit, then <pid>.exited
//	                   after its last output line
//	INTEROP_HELPER     "1": starts a helper process (this binary, sleeping) and writes its pid to <pid>.helper
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	accesscontrolv1 "secrets-engine-interop/gostack/gen/accesscontrol/v1"
	"secrets-engine-interop/gostack/gen/accesscontrol/v1/accesscontrolv1connect"
	pluginsv1 "secrets-engine-interop/gostack/gen/plugins/v1"
	"secrets-engine-interop/gostack/gen/plugins/v1/pluginsv1connect"
	resolverv1 "secrets-engine-interop/gostack/gen/resolver/v1"
	"secrets-engine-interop/gostack/gen/resolver/v1/resolverv1connect"
	"secrets-engine-interop/gostack/internal/ipc"
	"secrets-engine-interop/gostack/internal/match"
)

type secret struct {
	ID        string            `json:"id"`
	Value     []byte            `json:"value"`
	Version   string            `json:"version"`
	Metadata  map[string]string `json:"metadata"`
	CreatedAt time.Time         `json:"createdAt"`
	ExpiresAt time.Time         `json:"expiresAt"`
}

var logger = log.New(os.Stderr, "gostack-plugin: ", log.Lmsgprefix)

func main() {
	if os.Getenv("INTEROP_AS_HELPER") == "1" {
		time.Sleep(10 * time.Minute)
		return
	}
	code, reason := run()
	dir := os.Getenv("INTEROP_PID_DIR")
	if dir != "" {
		_ = os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())+".exit"),
			[]byte(fmt.Sprintf("%d %s", code, reason)), 0o644)
	}
	// The last output line. Where the engine pipes this process's stderr and is gone, this write is
	// the one a broken pipe turns into SIGPIPE (wait status 141): then <pid>.exited is missing.
	logger.Printf("exiting with code %d: %s", code, reason)
	if dir != "" {
		_ = os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())+".exited"), nil, 0o644)
	}
	os.Exit(code)
}

// startHelper starts a helper process of the plugin's own (this binary again, in helper mode: it
// only sleeps), as a plugin that runs a credential helper or an agent would, and records its pid in
// <pid>.helper. It is in the plugin's process group, and outlives the plugin unless someone ends it.
func startHelper(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self)
	cmd.Env = []string{"INTEROP_AS_HELPER=1"}
	if err := cmd.Start(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())+".helper"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
}

func run() (int, string) {
	// Before anything else: once registered the plugin must handle SIGINT/SIGTERM (§7.5).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	if dir := os.Getenv("INTEROP_PID_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), nil, 0o644)
		if os.Getenv("INTEROP_HELPER") == "1" {
			if err := startHelper(dir); err != nil {
				return 2, "starting the helper: " + err.Error()
			}
		}
	}
	protocol := envOr("INTEROP_PROTOCOL", "head")
	version := envOr("INTEROP_VERSION", "v0.0.1")
	pattern := envOr("INTEROP_PATTERN", "go/**")
	var store []secret
	if err := loadSecrets(&store); err != nil {
		return 2, err.Error()
	}

	var conn net.Conn
	var name string
	registrationTimeout := 5 * time.Second
	if raw, ok := os.LookupEnv(ipc.LaunchEnv); ok {
		cfg, err := ipc.ParseLaunchConfig(raw)
		if err != nil {
			return 2, err.Error()
		}
		if conn, err = ipc.ConnFromFd(cfg.Fd); err != nil {
			return 2, err.Error()
		}
		name, registrationTimeout = cfg.Name, cfg.Timeout
	} else {
		socket := os.Getenv("INTEROP_SOCKET")
		if socket == "" {
			return 2, "neither " + ipc.LaunchEnv + " nor INTEROP_SOCKET is set"
		}
		var err error
		if conn, err = ipc.DialAndHijack(socket); err != nil {
			return 2, err.Error()
		}
		name = envOr("INTEROP_NAME", filepath.Base(os.Args[0]))
	}

	setupDone := make(chan struct{})
	var shutdown func()
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	resolver := &resolverHandler{store: store, errorOn: os.Getenv("INTEROP_ERROR_ON"), setupDone: setupDone, timeout: registrationTimeout}
	if os.Getenv("INTEROP_KIND") == "access-control" {
		// A HEAD plugin serves either ResolverService or AccessControlService, never both (§4.2).
		mux.Handle(accesscontrolv1connect.NewAccessControlServiceHandler(&accessHandler{
			allow: os.Getenv("INTEROP_ALLOW"), setupDone: setupDone, timeout: registrationTimeout,
		}))
	} else {
		mux.Handle(resolverv1connect.NewResolverServiceHandler(resolver))
	}
	shutdownCalled := make(chan struct{}, 1)
	onShutdown := func() {
		select {
		case shutdownCalled <- struct{}{}:
			go shutdown()
		default:
		}
	}
	if protocol == "old" {
		mux.Handle(resolverv1connect.NewPluginServiceHandler(oldShutdown{onShutdown}))
	} else {
		mux.Handle(pluginsv1connect.NewPluginServiceHandler(headShutdown{onShutdown}))
	}

	session, err := ipc.New(conn, mux, logger)
	if err != nil {
		return 2, err.Error()
	}
	shutdown = session.Close

	ctx, cancel := context.WithTimeout(context.Background(), registrationTimeout)
	engine, err := register(ctx, session.Client, protocol, name, version, pattern)
	cancel()
	if err != nil {
		session.Close()
		return 1, "registration failed: " + err.Error()
	}
	close(setupDone)
	logger.Printf("registered %s@%s pattern %s over %s (engine: %s)", name, version, pattern, protocol, engine)

	select {
	case sig := <-sigs:
		session.Close()
		return 0, "signal " + sig.String()
	case <-session.Done():
	}
	select {
	case <-shutdownCalled:
		return 0, "shutdown rpc"
	default:
	}
	if err := session.Err(); err != nil {
		// §7.5: the engine went away; not an error for the plugin.
		return 0, "engine gone: " + err.Error()
	}
	return 0, "closed"
}

func register(ctx context.Context, client *http.Client, protocol, name, version, pattern string) (string, error) {
	if protocol == "old" {
		c := resolverv1connect.NewRegisterServiceClient(client, ipc.BaseURL)
		res, err := c.RegisterPlugin(ctx, connect.NewRequest(&resolverv1.RegisterPluginRequest{
			Name: proto.String(name), Version: proto.String(version), Pattern: proto.String(pattern),
		}))
		if err != nil {
			return "", err
		}
		return res.Msg.GetEngineName() + "@" + res.Msg.GetEngineVersion(), nil
	}
	c := pluginsv1connect.NewRegisterServiceClient(client, ipc.BaseURL)
	req := &pluginsv1.RegisterPluginRequest{
		Name: proto.String(name), Version: proto.String(version),
		Metadata: &pluginsv1.RegisterPluginRequest_SecretsProvider{
			SecretsProvider: &pluginsv1.SecretsProvider{Pattern: proto.String(pattern)},
		},
	}
	if os.Getenv("INTEROP_KIND") == "access-control" {
		// What Docker's NewAccessControlModule registers (HEAD, §4.2, §10.1).
		req.Metadata = &pluginsv1.RegisterPluginRequest_AccessControlModule{AccessControlModule: &pluginsv1.AccessControlModule{}}
	}
	res, err := c.RegisterPlugin(ctx, connect.NewRequest(req))
	if err != nil {
		return "", err
	}
	return res.Msg.GetEngineName() + "@" + res.Msg.GetEngineVersion(), nil
}

type headShutdown struct{ fn func() }

func (h headShutdown) Shutdown(context.Context, *connect.Request[pluginsv1.ShutdownRequest]) (*connect.Response[pluginsv1.ShutdownResponse], error) {
	h.fn()
	return connect.NewResponse(&pluginsv1.ShutdownResponse{}), nil
}

type oldShutdown struct{ fn func() }

func (h oldShutdown) Shutdown(context.Context, *connect.Request[resolverv1.ShutdownRequest]) (*connect.Response[resolverv1.ShutdownResponse], error) {
	h.fn()
	return connect.NewResponse(&resolverv1.ShutdownResponse{}), nil
}

type resolverHandler struct {
	store     []secret
	errorOn   string
	setupDone chan struct{}
	timeout   time.Duration
}

// GetSecrets answers like Docker's SDK handler (§5.1 step 7, §6.4 step 7): gated on registration,
// not_found "secret not found" when nothing matches, internal for other errors.
func (h *resolverHandler) GetSecrets(ctx context.Context, req *connect.Request[resolverv1.GetSecretsRequest]) (*connect.Response[resolverv1.GetSecretsResponse], error) {
	select {
	case <-h.setupDone:
	case <-time.After(h.timeout):
		return nil, connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("registration incomplete (timeout after %s)", h.timeout))
	case <-ctx.Done():
		return nil, connect.NewError(connect.CodeInternal, errors.New("context cancelled while waiting for registration"))
	}
	pattern := req.Msg.GetPattern()
	// connect-go gzips every response when the caller accepts it (§2.3): log what the engine sent.
	logger.Printf("GetSecrets %s accept-encoding=%s", pattern, req.Header().Get("Accept-Encoding"))
	if !match.Valid(pattern) {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("invalid pattern"))
	}
	if pattern == h.errorOn {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("failed to get secret %q: boom", pattern))
	}
	var out []*resolverv1.GetSecretsResponse_Envelope
	for _, s := range h.store {
		if !match.Match(pattern, s.ID) {
			continue
		}
		metadata := map[string]string{"requested": pattern}
		for k, v := range s.Metadata {
			metadata[k] = v
		}
		out = append(out, &resolverv1.GetSecretsResponse_Envelope{
			Id:       proto.String(s.ID),
			Value:    s.Value,
			Provider: proto.String("gostack-plugin"),
			Version:  proto.String(s.Version),
			Metadata: metadata,
			// Go writes every time with timestamppb.New; unset is the Go zero time (§4.4).
			CreatedAt:  timestamppb.New(s.CreatedAt),
			ResolvedAt: timestamppb.New(time.Time{}),
			ExpiresAt:  timestamppb.New(s.ExpiresAt),
		})
	}
	if len(out) == 0 {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("secret not found"))
	}
	return connect.NewResponse(&resolverv1.GetSecretsResponse{Envelopes: out}), nil
}

type accessHandler struct {
	allow     string
	setupDone chan struct{}
	timeout   time.Duration
}

// What Docker's NewAccessControlHandler does (§10.1): invalid pattern and missing requester are
// invalid_argument, Authorize needs a pattern, the decision is always set, expires_at always
// written with timestamppb.New (the Go zero time for no expiry).
func (h *accessHandler) wait(ctx context.Context) error {
	select {
	case <-h.setupDone:
		return nil
	case <-time.After(h.timeout):
		return connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("registration incomplete (timeout after %s)", h.timeout))
	case <-ctx.Done():
		return connect.NewError(connect.CodeInternal, errors.New("context cancelled while waiting for registration"))
	}
}

func (h *accessHandler) decide(requester *accesscontrolv1.Requester, pattern string) (bool, error) {
	logger.Printf("access %s for %s (pid %d, %s)", pattern, requester.GetName(), requester.GetPid(), requester.GetAbsoluteBinaryPath())
	if pattern == "allowed/error" {
		return false, errors.New("policy store is down")
	}
	ok := len(pattern) > len("allowed/") && pattern[:len("allowed/")] == "allowed/"
	return ok && (h.allow == "" || requester.GetName() == h.allow), nil
}

func decision(allow bool) *accesscontrolv1.Decision {
	if allow {
		return accesscontrolv1.Decision_DECISION_ALLOW.Enum()
	}
	return accesscontrolv1.Decision_DECISION_DENY.Enum()
}

func (h *accessHandler) CheckAccess(ctx context.Context, req *connect.Request[accesscontrolv1.CheckAccessRequest]) (*connect.Response[accesscontrolv1.CheckAccessResponse], error) {
	if err := h.wait(ctx); err != nil {
		return nil, err
	}
	if !match.Valid(req.Msg.GetPattern()) {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("invalid pattern"))
	}
	if req.Msg.GetRequester() == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("requester is required"))
	}
	allow, err := h.decide(req.Msg.GetRequester(), req.Msg.GetPattern())
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return connect.NewResponse(&accesscontrolv1.CheckAccessResponse{Decision: decision(allow)}), nil
}

func (h *accessHandler) Authorize(ctx context.Context, req *connect.Request[accesscontrolv1.AuthorizeRequest]) (*connect.Response[accesscontrolv1.AuthorizeResponse], error) {
	if err := h.wait(ctx); err != nil {
		return nil, err
	}
	if len(req.Msg.GetPatterns()) == 0 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("at least one pattern is required"))
	}
	for _, p := range req.Msg.GetPatterns() {
		if !match.Valid(p) {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("invalid pattern"))
		}
	}
	if req.Msg.GetRequester() == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("requester is required"))
	}
	allow := true
	for _, p := range req.Msg.GetPatterns() {
		ok, err := h.decide(req.Msg.GetRequester(), p)
		if err != nil {
			return nil, connect.NewError(connect.CodeInternal, err)
		}
		allow = allow && ok
	}
	var expiry time.Time
	if allow {
		expiry = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	return connect.NewResponse(&accesscontrolv1.AuthorizeResponse{Decision: decision(allow), ExpiresAt: timestamppb.New(expiry)}), nil
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// loadSecrets reads the static store from INTEROP_SECRETS_FILE (for values beyond the 128 KiB limit
// of one environment variable) or INTEROP_SECRETS.
func loadSecrets(store *[]secret) error {
	raw := []byte(os.Getenv("INTEROP_SECRETS"))
	if path := os.Getenv("INTEROP_SECRETS_FILE"); path != "" {
		var err error
		if raw, err = os.ReadFile(path); err != nil {
			return err
		}
	}
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, store); err != nil {
		return fmt.Errorf("bad INTEROP_SECRETS: %w", err)
	}
	return nil
}
