// go-engine: a minimal engine of our own, in Go, built on the same stack as Docker's engine
// (hashicorp/yamux v0.1.2 with DefaultConfig as the yamux SERVER, net/http on the session,
// connect-go clients over http.Client{DisableKeepAlives, DialContext: session.Open}, base URL
// http://unix; protocol.md §2). It runs one plugin written with our TypeScript SDK through the
// whole life of a Docker-managed plugin and prints a JSON report on stdout:
//
//	-mode launched  socketpair, child end on fd 3 (cmd.ExtraFiles), environment = only
//	                DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG {"name","timeout"(ns),"fd":3} (§1.2, §1.3)
//	-mode external  listens on a unix socket; /hijack answered with Go's exact
//	                `HTTP/0.0 101 Switching Protocols` response after hijacking (§3.3)
//
// Then: RegisterPlugin (§5.1), GetSecrets (values, timestamps, not_found, invalid_argument, 1 MiB,
// concurrency), /health, ping, Shutdown, the §2.4 teardown (GoAway, drain, close) and the plugin's
// exit status (§7.1).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
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
	"github.com/secrets-engine/secrets-engine-ts/tests/interop-go-peer/go/internal/wire"
)

// LaunchEnv is the launch variable (§1.3).
const LaunchEnv = "DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG"

// HijackResponse is what Docker's engine writes after hijacking /hijack (§3.3): the response is
// built with ProtoMajor/ProtoMinor left at 0, so the status line reads HTTP/0.0.
const HijackResponse = "HTTP/0.0 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: tcp\r\n\r\n"

// launchConfig mirrors the Unix launch JSON: name, timeout (a time.Duration, so nanoseconds), fd.
type launchConfig struct {
	Name    string        `json:"name"`
	Timeout time.Duration `json:"timeout"`
	Fd      int           `json:"fd"`
}

type step struct {
	Name   string  `json:"name"`
	OK     bool    `json:"ok"`
	Ms     float64 `json:"ms"`
	Detail any     `json:"detail,omitempty"`
	Error  string  `json:"error,omitempty"`
}

type pluginResult struct {
	Pid            int    `json:"pid"`
	ExitCode       int    `json:"exitCode"`
	Signal         string `json:"signal,omitempty"`
	ExitedOnItsOwn bool   `json:"exitedOnItsOwn"`
	ExitMs         int64  `json:"exitMs"` // from the end of the teardown to the exit
	Stderr         string `json:"stderr"`
}

type hijackInfo struct {
	RawRequest       string            `json:"rawRequest"`
	Method           string            `json:"method"`
	Path             string            `json:"path"`
	Proto            string            `json:"proto"`
	Host             string            `json:"host"`
	Headers          map[string]string `json:"headers"`
	Response         string            `json:"response"`
	GoSerializer     string            `json:"goSerializer"`
	BufferedAfterReq int               `json:"bufferedAfterRequest"`
}

type registration struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Pattern     string `json:"pattern"`
	Host        string `json:"host"`
	Proto       string `json:"proto"`
	ContentType string `json:"contentType"`
	ConnectVer  string `json:"connectProtocolVersion"`
	TimeoutMs   string `json:"connectTimeoutMs"`
	ConnClose   bool   `json:"connectionClose"`
	UserAgent   string `json:"userAgent"`
}

type report struct {
	Mode         string            `json:"mode"`
	Name         string            `json:"name"`
	GoVersion    string            `json:"goVersion"`
	Modules      map[string]string `json:"modules"`
	LaunchEnv    string            `json:"launchEnv,omitempty"`
	Hijack       *hijackInfo       `json:"hijack,omitempty"`
	Registration *registration     `json:"registration,omitempty"`
	Steps        []step            `json:"steps"`
	YamuxLog     []string          `json:"yamuxLog"`
	Frames       wire.Stats        `json:"frames"`
	Plugin       pluginResult      `json:"plugin"`
	OK           bool              `json:"ok"`
	TotalMs      int64             `json:"totalMs"`
	mu           sync.Mutex
}

func (r *report) run(name string, fn func() (any, error)) bool {
	start := time.Now()
	detail, err := fn()
	s := step{Name: name, OK: err == nil, Ms: float64(time.Since(start).Microseconds()) / 1000, Detail: detail}
	if err != nil {
		s.Error = err.Error()
	}
	r.mu.Lock()
	r.Steps = append(r.Steps, s)
	r.mu.Unlock()
	return err == nil
}

func (r *report) fail(name string, err error) { r.run(name, func() (any, error) { return nil, err }) }

func main() {
	mode := flag.String("mode", "launched", "launched | external")
	node := flag.String("node", "", "absolute path of the node binary")
	plugin := flag.String("plugin", "", "the plugin program (.mjs)")
	name := flag.String("name", "go-launched", "plugin name")
	socketPath := flag.String("socket", "", "engine socket (external mode)")
	regTimeout := flag.Duration("registration-timeout", 5*time.Second, "registration timeout")
	flag.Parse()

	start := time.Now()
	rep := &report{Mode: *mode, Name: *name, GoVersion: runtime.Version(), Modules: modules()}
	switch *mode {
	case "launched":
		launched(rep, *node, *plugin, *name, *regTimeout)
	case "external":
		external(rep, *node, *plugin, *name, *socketPath, *regTimeout)
	default:
		rep.fail("mode", fmt.Errorf("unknown mode %q", *mode))
	}
	rep.OK = len(rep.Steps) > 0
	for _, s := range rep.Steps {
		rep.OK = rep.OK && s.OK
	}
	rep.TotalMs = time.Since(start).Milliseconds()
	if rep.YamuxLog == nil {
		rep.YamuxLog = []string{}
	}
	out, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Println(string(out))
}

func modules() map[string]string {
	m := map[string]string{}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			m[d.Path] = d.Version
		}
	}
	return m
}

// --- launched (§1.2) ---

func launched(rep *report, node, plugin, name string, regTimeout time.Duration) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		rep.fail("socketpair", err)
		return
	}
	engineFile := os.NewFile(uintptr(fds[0]), "engine")
	childFile := os.NewFile(uintptr(fds[1]), "plugin")
	conn, err := net.FileConn(engineFile)
	_ = engineFile.Close()
	if err != nil {
		rep.fail("socketpair", err)
		return
	}
	cfg, _ := json.Marshal(launchConfig{Name: name, Timeout: regTimeout, Fd: 3})
	rep.LaunchEnv = string(cfg)

	// argv: node and the script (Docker runs the plugin file itself; a node script needs node,
	// given by absolute path because the child gets no PATH). Env: the launch variable only.
	cmd := exec.Command(node, plugin)
	cmd.Env = []string{LaunchEnv + "=" + string(cfg)}
	cmd.ExtraFiles = []*os.File{childFile}
	var stderr bytes.Buffer
	cmd.Stderr = &syncWriter{w: &stderr}

	eng := newEngine(rep, conn, name, true, regTimeout)
	if err := cmd.Start(); err != nil {
		rep.fail("start plugin", err)
		return
	}
	rep.Plugin.Pid = cmd.Process.Pid
	exited := waitProcess(cmd)
	eng.lifecycle(func() { _ = childFile.Close() })
	finishProcess(rep, cmd, exited)
}

// --- external (§3.2–§3.4) ---

func external(rep *report, node, plugin, name, socketPath string, regTimeout time.Duration) {
	ln, err := net.Listen("unix", socketPath)
	if err != nil {
		rep.fail("listen", err)
		return
	}
	defer ln.Close()
	tl := &teeListener{Listener: ln}
	hijacked := make(chan struct{})
	var once sync.Once
	info := &hijackInfo{Headers: map[string]string{}}
	rep.Hijack = info

	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		info.Method, info.Path, info.Proto, info.Host = r.Method, r.URL.Path, r.Proto, r.Host
		for k, v := range r.Header {
			info.Headers[k] = strings.Join(v, ", ")
		}
		// Hijack first, write nothing before it (§3.3 step 1).
		conn, bufrw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			rep.fail("hijack", err)
			return
		}
		defer conn.Close()
		info.BufferedAfterReq = bufrw.Reader.Buffered()
		if tc, ok := conn.(*teeConn); ok {
			info.RawRequest = tc.first()
		}
		_, _ = bufrw.WriteString(HijackResponse)
		if err := bufrw.Flush(); err != nil {
			rep.fail("write 101", err)
			return
		}
		info.Response = HijackResponse
		var b bytes.Buffer
		_ = (&http.Response{Proto: "HTTP/1.1", StatusCode: http.StatusSwitchingProtocols,
			Header: http.Header{"Connection": {"upgrade"}, "Upgrade": {"tcp"}}}).Write(&b)
		info.GoSerializer = b.String()
		// The raw conn, not the buffered reader (§3.3 step 3); the handler holds it until done.
		eng := newEngine(rep, conn, name, false, regTimeout)
		eng.lifecycle(nil)
		once.Do(func() { close(hijacked) })
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 2 * time.Second}
	go func() { _ = srv.Serve(tl) }()
	defer srv.Close()

	cmd := exec.Command(node, plugin)
	cmd.Env = []string{"SECRETS_ENGINE_SOCKET=" + socketPath, "FIXTURE_NAME=" + name}
	var stderr bytes.Buffer
	cmd.Stderr = &syncWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		rep.fail("start plugin", err)
		return
	}
	rep.Plugin.Pid = cmd.Process.Pid
	exited := waitProcess(cmd)
	select {
	case <-hijacked:
	case <-exited.done:
		// The plugin may exit while the engine side is still finishing its teardown.
		select {
		case <-hijacked:
		case <-time.After(5 * time.Second):
			rep.fail("hijack", errors.New("the plugin exited and no /hijack session completed"))
		}
	case <-time.After(regTimeout + 20*time.Second):
		rep.fail("hijack", errors.New("no /hijack session completed in time"))
	}
	finishProcess(rep, cmd, exited)
}

// --- the engine side of one plugin connection ---

type engine struct {
	rep        *report
	tap        *wire.Conn
	logs       *wire.LogLines
	ipc        *ipcstack.IPC
	name       string
	launched   bool
	regTimeout time.Duration
	regCh      chan *registration
	regOnce    sync.Mutex
	registered bool
	setupAt    time.Time
}

func newEngine(rep *report, conn net.Conn, name string, launched bool, regTimeout time.Duration) *engine {
	e := &engine{rep: rep, tap: wire.NewConn(conn), logs: &wire.LogLines{Tee: os.Stderr}, name: name,
		launched: launched, regTimeout: regTimeout, regCh: make(chan *registration, 1), setupAt: time.Now()}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = e.logs
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	path, handler := pluginsv1connect.NewRegisterServiceHandler(e)
	mux.Handle(path, recordRequest(handler))
	ipc, err := ipcstack.New(e.tap, true, cfg, mux, nil)
	if err != nil {
		rep.fail("yamux server", err)
		return e
	}
	e.ipc = ipc
	return e
}

type ctxKey struct{}

// recordRequest keeps the HTTP-level facts of the RegisterPlugin call for the report.
func recordRequest(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg := &registration{Host: r.Host, Proto: r.Proto, ContentType: r.Header.Get("Content-Type"),
			ConnectVer: r.Header.Get("Connect-Protocol-Version"), TimeoutMs: r.Header.Get("Connect-Timeout-Ms"),
			ConnClose: r.Close, UserAgent: r.Header.Get("User-Agent")}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, reg)))
	})
}

var versionRe = regexp.MustCompile(`^v(0|[1-9]\d*)(\.(0|[1-9]\d*)(\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?)?)?$`)

// RegisterPlugin validates as Docker's engine does (§5.1 step 3), once per connection.
func (e *engine) RegisterPlugin(ctx context.Context, req *connect.Request[pluginsv1.RegisterPluginRequest]) (*connect.Response[pluginsv1.RegisterPluginResponse], error) {
	e.regOnce.Lock()
	defer e.regOnce.Unlock()
	if e.registered {
		return nil, connect.NewError(connect.CodeInternal, errors.New("cannot rerun registration"))
	}
	msg := req.Msg
	if e.launched && msg.GetName() != e.name {
		return nil, connect.NewError(connect.CodeInternal, errors.New("plugin name cannot be changed when launched by engine"))
	}
	if msg.GetName() == "" {
		return nil, connect.NewError(connect.CodeInternal, errors.New("parsing name: empty name"))
	}
	if !versionRe.MatchString(msg.GetVersion()) {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("invalid version: %q", msg.GetVersion()))
	}
	sp := msg.GetSecretsProvider()
	if sp == nil || sp.GetPattern() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("invalid pattern"))
	}
	e.registered = true
	reg, _ := ctx.Value(ctxKey{}).(*registration)
	if reg == nil {
		reg = &registration{}
	}
	reg.Name, reg.Version, reg.Pattern = msg.GetName(), msg.GetVersion(), sp.GetPattern()
	e.regCh <- reg
	return connect.NewResponse(&pluginsv1.RegisterPluginResponse{
		EngineName: proto.String("go-interop-engine"), EngineVersion: proto.String("v0.0.0-interop"), RequestTimeout: durationpb.New(0),
	}), nil
}

// lifecycle runs registration, the calls, Shutdown and the teardown. afterRegistration runs once
// registration has finished or failed (the engine then closes its copy of the child's end, §1.2).
func (e *engine) lifecycle(afterRegistration func()) {
	rep := e.rep
	defer func() {
		rep.YamuxLog = e.logs.Lines()
		rep.Frames = e.tap.Snapshot()
	}()
	if e.ipc == nil {
		return
	}
	var reg *registration
	ok := rep.run("register", func() (any, error) {
		defer func() {
			if afterRegistration != nil {
				afterRegistration()
			}
		}()
		remaining := e.regTimeout - time.Since(e.setupAt)
		select {
		case reg = <-e.regCh:
			rep.Registration = reg
			return map[string]any{"msSinceSetup": time.Since(e.setupAt).Milliseconds()}, nil
		case <-e.ipc.Session.CloseChan():
			return nil, errors.New("failed to register plugin, ipc error: session closed")
		case <-time.After(remaining):
			return nil, errors.New("plugin registration timed out")
		}
	})
	if !ok {
		e.ipc.Close(2 * time.Second)
		return
	}
	client := resolverv1connect.NewResolverServiceClient(e.ipc.Client, ipcstack.BaseURL)
	e.secretsChecks(client)
	rep.run("health", func() (any, error) {
		res, err := e.ipc.Client.Get(ipcstack.BaseURL + "/health")
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(body) != "ok" {
			return nil, fmt.Errorf("GET /health: %d %q", res.StatusCode, body)
		}
		return map[string]any{"status": res.StatusCode, "body": string(body)}, nil
	})
	rep.run("unknown route is unimplemented", func() (any, error) {
		c := connect.NewClient[pluginsv1.ShutdownRequest, pluginsv1.ShutdownResponse](e.ipc.Client, ipcstack.BaseURL+"/nope.v1.NoService/Nothing")
		_, err := c.CallUnary(context.Background(), connect.NewRequest(&pluginsv1.ShutdownRequest{}))
		if connect.CodeOf(err) != connect.CodeUnimplemented {
			return nil, fmt.Errorf("want unimplemented, got %v", err)
		}
		return map[string]any{"error": err.Error()}, nil
	})
	rep.run("ping", func() (any, error) {
		rtt, err := e.ipc.Session.Ping()
		return map[string]any{"rttMs": float64(rtt.Microseconds()) / 1000}, err
	})
	rep.run("shutdown", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := pluginsv1connect.NewPluginServiceClient(e.ipc.Client, ipcstack.BaseURL).
			Shutdown(ctx, connect.NewRequest(&pluginsv1.ShutdownRequest{}))
		return nil, err
	})
	rep.run("ipc close (GoAway, drain, close)", func() (any, error) {
		res := e.ipc.Close(2 * time.Second)
		if !res.Drained {
			return res, errors.New(res.Log)
		}
		return res, nil
	})
	rep.run("serve returned", func() (any, error) {
		select {
		case <-e.ipc.Served():
			err := e.ipc.ServeErr()
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			return map[string]any{"serveErr": msg}, nil
		case <-time.After(2 * time.Second):
			return nil, errors.New("http Serve(session) did not return")
		}
	})
	rep.run("frames", func() (any, error) {
		s := e.tap.Snapshot()
		var problems []string
		if s.In.BadVersion+s.Out.BadVersion > 0 {
			problems = append(problems, "frames with a version other than 0")
		}
		if s.In.SynEvenIDs > 0 {
			problems = append(problems, "the plugin (yamux client) opened even stream ids")
		}
		if s.Out.SynOddIDs > 0 {
			problems = append(problems, "the engine (yamux server) opened odd stream ids")
		}
		if s.In.SYN == 0 || s.Out.SYN == 0 {
			problems = append(problems, "expected streams opened by both sides")
		}
		if s.In.RST+s.Out.RST > 0 {
			problems = append(problems, fmt.Sprintf("RST frames: plugin %d, engine %d", s.In.RST, s.Out.RST))
		}
		for _, c := range append(s.In.GoAwayCodes, s.Out.GoAwayCodes...) {
			if c != 0 {
				problems = append(problems, fmt.Sprintf("GoAway code %d", c))
			}
		}
		if lines := e.logs.Lines(); len(lines) > 0 {
			problems = append(problems, "yamux logged: "+strings.Join(lines, " | "))
		}
		detail := map[string]any{"pluginSyn": s.In.SYN, "engineSyn": s.Out.SYN, "pluginGoAway": s.In.GoAwayCodes,
			"engineGoAway": s.Out.GoAwayCodes, "pluginWindowUpdates": s.In.WindowUpdates, "engineWindowUpdates": s.Out.WindowUpdates,
			"maxAckDelayMs": maxOf(s.AckDelaysMs)}
		if len(problems) > 0 {
			return detail, errors.New(strings.Join(problems, "; "))
		}
		return detail, nil
	})
}

// What the fixture plugin serves (fixtures/sdk-plugin.mjs): keep the two in step.
var createdAt = time.Date(2024, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

const goZeroSeconds = -62135596800
const bigSize = 1 << 20

func bigValue() []byte {
	b := make([]byte, bigSize)
	for i := range b {
		b[i] = byte((i*7 + 3) % 251)
	}
	return b
}

func (e *engine) secretsChecks(client resolverv1connect.ResolverServiceClient) {
	rep, name := e.rep, e.name
	get := func(pattern string) (*resolverv1.GetSecretsResponse, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := client.GetSecrets(ctx, connect.NewRequest(&resolverv1.GetSecretsRequest{Pattern: proto.String(pattern)}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}
	type want struct {
		value []byte
		kind  string
	}
	wants := map[string]want{
		name + "/db/password": {[]byte("hunter2"), "text"},
		name + "/api/token":   {[]byte{0x00, 0x01, 0x02, 0xfe, 0xff}, "binary"},
	}
	checkEnvelope := func(env *resolverv1.GetSecretsResponse_Envelope) error {
		w, ok := wants[env.GetId()]
		if !ok {
			return fmt.Errorf("unexpected id %q", env.GetId())
		}
		if !bytes.Equal(env.GetValue(), w.value) {
			return fmt.Errorf("%s: value %x, want %x", env.GetId(), env.GetValue(), w.value)
		}
		if env.GetVersion() != "sv1" || env.GetMetadata()["kind"] != w.kind {
			return fmt.Errorf("%s: version %q metadata %v", env.GetId(), env.GetVersion(), env.GetMetadata())
		}
		if !env.GetCreatedAt().AsTime().Equal(createdAt) {
			return fmt.Errorf("%s: created_at %v, want %v", env.GetId(), env.GetCreatedAt().AsTime(), createdAt)
		}
		// Unset times are the Go zero time, present on the wire (§4.4), so AsTime().IsZero().
		for label, ts := range map[string]interface {
			GetSeconds() int64
			GetNanos() int32
		}{"resolved_at": env.GetResolvedAt(), "expires_at": env.GetExpiresAt()} {
			if ts.GetSeconds() != goZeroSeconds || ts.GetNanos() != 0 {
				return fmt.Errorf("%s: %s is %d.%09d, want the Go zero time", env.GetId(), label, ts.GetSeconds(), ts.GetNanos())
			}
		}
		if env.GetResolvedAt() == nil || !env.GetResolvedAt().AsTime().IsZero() {
			return fmt.Errorf("%s: resolved_at absent or not zero", env.GetId())
		}
		return nil
	}
	rep.run("GetSecrets "+name+"/**", func() (any, error) {
		msg, err := get(name + "/**")
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, env := range msg.GetEnvelopes() {
			ids = append(ids, env.GetId())
			if err := checkEnvelope(env); err != nil {
				return ids, err
			}
		}
		sort.Strings(ids)
		if len(ids) != 2 {
			return ids, fmt.Errorf("got %d envelopes, want 2", len(ids))
		}
		return ids, nil
	})
	rep.run("GetSecrets exact id", func() (any, error) {
		msg, err := get(name + "/db/password")
		if err != nil {
			return nil, err
		}
		if len(msg.GetEnvelopes()) != 1 {
			return nil, fmt.Errorf("got %d envelopes, want 1", len(msg.GetEnvelopes()))
		}
		return string(msg.GetEnvelopes()[0].GetValue()), checkEnvelope(msg.GetEnvelopes()[0])
	})
	rep.run("GetSecrets not_found", func() (any, error) {
		_, err := get(name + "/missing/thing")
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != connect.CodeNotFound || ce.Message() != "secret not found" {
			return nil, fmt.Errorf("want not_found \"secret not found\", got %v", err)
		}
		return err.Error(), nil
	})
	rep.run("GetSecrets invalid pattern", func() (any, error) {
		_, err := get("not a pattern!")
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			return nil, fmt.Errorf("want invalid_argument, got %v", err)
		}
		return err.Error(), nil
	})
	rep.run("GetSecrets 1 MiB value", func() (any, error) {
		msg, err := get(name + "/big")
		if err != nil {
			return nil, err
		}
		if len(msg.GetEnvelopes()) != 1 {
			return nil, fmt.Errorf("got %d envelopes", len(msg.GetEnvelopes()))
		}
		got := sha256.Sum256(msg.GetEnvelopes()[0].GetValue())
		want := sha256.Sum256(bigValue())
		if got != want {
			return nil, fmt.Errorf("sha256 %x, want %x (%d bytes)", got, want, len(msg.GetEnvelopes()[0].GetValue()))
		}
		return map[string]any{"bytes": len(msg.GetEnvelopes()[0].GetValue()), "sha256": hex.EncodeToString(got[:])}, nil
	})
	rep.run("GetSecrets x64 concurrent", func() (any, error) {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := 0; i < 64; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg, err := get(name + "/db/password")
				if err == nil && (len(msg.GetEnvelopes()) != 1 || string(msg.GetEnvelopes()[0].GetValue()) != "hunter2") {
					err = errors.New("wrong answer")
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		okCount := 0
		var first error
		for err := range errs {
			if err == nil {
				okCount++
			} else if first == nil {
				first = err
			}
		}
		if first != nil {
			return map[string]any{"ok": okCount}, first
		}
		return map[string]any{"ok": okCount}, nil
	})
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		if x > m {
			m = x
		}
	}
	return m
}

// --- process bookkeeping ---

type exitInfo struct {
	state *os.ProcessState
	at    time.Time
}

// procWait is closed (done) once the process has been reaped; info is valid from then on.
type procWait struct {
	done chan struct{}
	info exitInfo
}

func waitProcess(cmd *exec.Cmd) *procWait {
	w := &procWait{done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		w.info = exitInfo{state: cmd.ProcessState, at: time.Now()}
		close(w.done)
	}()
	return w
}

func finishProcess(rep *report, cmd *exec.Cmd, exited *procWait) {
	teardownDone := time.Now()
	rep.run("plugin exits 0 on its own", func() (any, error) {
		select {
		case <-exited.done:
			rep.Plugin.ExitedOnItsOwn = true
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited.done
		}
		info := exited.info
		rep.Plugin.ExitMs = info.at.Sub(teardownDone).Milliseconds()
		if ws, ok := info.state.Sys().(syscall.WaitStatus); ok {
			rep.Plugin.ExitCode = ws.ExitStatus()
			if ws.Signaled() {
				rep.Plugin.Signal = ws.Signal().String()
			}
		}
		if !rep.Plugin.ExitedOnItsOwn {
			return nil, errors.New("the plugin was still running 5 s after its Shutdown (killed)")
		}
		if rep.Plugin.ExitCode != 0 || rep.Plugin.Signal != "" {
			return nil, fmt.Errorf("exit code %d signal %q", rep.Plugin.ExitCode, rep.Plugin.Signal)
		}
		return nil, nil
	})
	if sw, ok := cmd.Stderr.(*syncWriter); ok {
		rep.Plugin.Stderr = sw.String()
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// --- a listener that remembers the first bytes each connection sent (the raw /hijack request) ---

type teeListener struct{ net.Listener }

func (l *teeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &teeConn{Conn: c}, nil
}

type teeConn struct {
	net.Conn
	mu  sync.Mutex
	buf []byte
}

func (c *teeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	if len(c.buf) < 4096 {
		c.buf = append(c.buf, b[:n]...)
	}
	c.mu.Unlock()
	return n, err
}

func (c *teeConn) first() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.buf)
}
