// bench-engine: the Go peer ENGINE of the end-to-end benchmark (packages/bench, "e2e"): a small
// engine of our own on Docker's stack (hashicorp/yamux v0.1.2 DefaultConfig as the yamux server,
// net/http on the session, connect-go clients over a new stream per request; protocol.md §2),
// written from protocol.md, no Docker source. It launches every executable file of a plugins
// folder (socketpair, child end on fd 3, DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG, §1.2-§1.3),
// accepts RegisterPlugin (HEAD protocol, §5.1), and serves ResolverService.GetSecrets on a unix
// socket (net/http HTTP/1.1, connect-go) by asking the registered plugins ONE AFTER THE OTHER, as
// Docker's engine does: not_found answers are skipped, other errors too; no envelope at all is
// not_found.
//
//	bench-engine -socket PATH -plugins DIR [-registration-timeout D]
//
// Once every plugin registered it prints one JSON line on stdout:
// {"ready":true,"pid":N,"plugins":[{"name","pid","registeredMs"}]} (registeredMs: from just before
// the spawn to the end of RegisterPlugin). SIGINT/SIGTERM: closes every session (the plugins exit
// on EOF), waits up to 3 s for them, kills what is left, exits 0.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/yamux"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	pluginsv1 "secrets-engine-interop/gostack/gen/plugins/v1"
	"secrets-engine-interop/gostack/gen/plugins/v1/pluginsv1connect"
	resolverv1 "secrets-engine-interop/gostack/gen/resolver/v1"
	"secrets-engine-interop/gostack/gen/resolver/v1/resolverv1connect"

	"github.com/secrets-engine/secrets-engine-ts/tests/interop-go-peer/go/internal/ipcstack"
)

const launchEnv = "DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG"

type plugin struct {
	name      string
	cmd       *exec.Cmd
	ipc       *ipcstack.IPC
	client    resolverv1connect.ResolverServiceClient
	regCh     chan error
	regOnce   sync.Once
	pattern   string
	regMs     float64
	exited    chan struct{}
	spawnedAt time.Time
}

func (p *plugin) RegisterPlugin(_ context.Context, req *connect.Request[pluginsv1.RegisterPluginRequest]) (*connect.Response[pluginsv1.RegisterPluginResponse], error) {
	msg := req.Msg
	if msg.GetName() != p.name {
		return nil, connect.NewError(connect.CodeInternal, errors.New("plugin name cannot be changed when launched by engine"))
	}
	if msg.GetSecretsProvider().GetPattern() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("invalid pattern"))
	}
	p.pattern = msg.GetSecretsProvider().GetPattern()
	p.regMs = float64(time.Since(p.spawnedAt).Microseconds()) / 1000
	p.regOnce.Do(func() { close(p.regCh) })
	return connect.NewResponse(&pluginsv1.RegisterPluginResponse{
		EngineName: proto.String("go-bench-engine"), EngineVersion: proto.String("v0.0.0-bench"), RequestTimeout: durationpb.New(0),
	}), nil
}

func launch(path, name string, regTimeout time.Duration) (*plugin, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	engineFile := os.NewFile(uintptr(fds[0]), "engine")
	childFile := os.NewFile(uintptr(fds[1]), "plugin")
	conn, err := net.FileConn(engineFile)
	_ = engineFile.Close()
	if err != nil {
		return nil, err
	}
	cfg, _ := json.Marshal(map[string]any{"name": name, "timeout": regTimeout, "fd": 3})
	p := &plugin{name: name, regCh: make(chan error), exited: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.Handle(pluginsv1connect.NewRegisterServiceHandler(p))
	ycfg := yamux.DefaultConfig()
	ycfg.LogOutput = os.Stderr
	p.spawnedAt = time.Now()
	ipc, err := ipcstack.New(conn, true, ycfg, mux, nil)
	if err != nil {
		return nil, err
	}
	p.ipc = ipc
	p.client = resolverv1connect.NewResolverServiceClient(ipc.Client, ipcstack.BaseURL)
	p.cmd = exec.Command(path)
	p.cmd.Env = []string{launchEnv + "=" + string(cfg)}
	p.cmd.ExtraFiles = []*os.File{childFile}
	p.cmd.Stderr = os.Stderr
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	_ = childFile.Close()
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	select {
	case <-p.regCh:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("plugin %s exited before it registered", name)
	case <-time.After(regTimeout):
		return nil, fmt.Errorf("plugin %s: registration timed out", name)
	}
}

type resolver struct{ plugins []*plugin }

func (r *resolver) GetSecrets(ctx context.Context, req *connect.Request[resolverv1.GetSecretsRequest]) (*connect.Response[resolverv1.GetSecretsResponse], error) {
	var out []*resolverv1.GetSecretsResponse_Envelope
	for _, p := range r.plugins {
		res, err := p.client.GetSecrets(ctx, connect.NewRequest(req.Msg))
		if err != nil {
			continue
		}
		out = append(out, res.Msg.GetEnvelopes()...)
	}
	if len(out) == 0 {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("secret not found"))
	}
	return connect.NewResponse(&resolverv1.GetSecretsResponse{Envelopes: out}), nil
}

func main() {
	socket := flag.String("socket", "", "engine socket")
	dir := flag.String("plugins", "", "plugins folder")
	regTimeout := flag.Duration("registration-timeout", 10*time.Second, "registration timeout")
	flag.Parse()
	if *socket == "" || *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: bench-engine -socket PATH -plugins DIR [-registration-timeout D]")
		os.Exit(2)
	}
	entries, err := os.ReadDir(*dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench-engine: reading the plugins folder: %v\n", err)
		os.Exit(1)
	}
	var names []string
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	// Launched concurrently, as Docker's engine starts its plugins.
	plugins := make([]*plugin, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			plugins[i], errs[i] = launch(filepath.Join(*dir, n), n, *regTimeout)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(os.Stderr, "bench-engine: %v\n", err)
		os.Exit(1)
	}
	ln, err := net.Listen("unix", *socket)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench-engine: listen: %v\n", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.Handle(resolverv1connect.NewResolverServiceHandler(&resolver{plugins: plugins}))
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	type info struct {
		Name         string  `json:"name"`
		Pid          int     `json:"pid"`
		RegisteredMs float64 `json:"registeredMs"`
	}
	ready := struct {
		Ready   bool   `json:"ready"`
		Pid     int    `json:"pid"`
		Plugins []info `json:"plugins"`
	}{Ready: true, Pid: os.Getpid(), Plugins: []info{}}
	for _, p := range plugins {
		ready.Plugins = append(ready.Plugins, info{Name: p.name, Pid: p.cmd.Process.Pid, RegisteredMs: p.regMs})
	}
	_ = json.NewEncoder(os.Stdout).Encode(ready)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	_ = srv.Close()
	for _, p := range plugins {
		_ = p.ipc.Session.Close()
	}
	deadline := time.After(3 * time.Second)
	for _, p := range plugins {
		select {
		case <-p.exited:
		case <-deadline:
			_ = p.cmd.Process.Kill()
		}
	}
}
