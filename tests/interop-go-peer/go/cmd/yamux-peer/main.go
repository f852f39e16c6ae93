// yamux-peer: the Go end of the frame-level checks. Started by the TypeScript test with
// launchPlugin() from @secrets-engine/ipc, so it finds its end of a socketpair on the fd named by
// DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG (protocol.md §1.2, §1.3), decoded with encoding/json into
// a time.Duration as Docker's SDK does. On it: hashicorp/yamux v0.1.2 with yamux.DefaultConfig()
// (a few timeouts can be shortened by flags), a net/http server on the session and an http.Client
// with DisableKeepAlives whose dialer is session.Open (the x/ipc stack, §2; see ipcstack).
//
// Streams the TS side opens that start with "RAW " bypass HTTP, for the reset checks:
//
//	RAW sink <tag>              read until EOF or error
//	RAW source <tag> <n>        write n bytes (byte i = (i*7+3) % 251), then Close (FIN)
//	RAW read-close <tag> <n>    read n bytes, then Close (FIN; hashicorp sends RST once
//	                            StreamCloseTimeout expires if the peer is still sending)
//
// Each reports {"event":"raw",...} when done. Control: JSON lines on a unix socket (-control) that
// the test listens on; every command gets {"id":..,"ok":..} back. See tests/interop-go-peer/README.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
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
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/secrets-engine/secrets-engine-ts/tests/interop-go-peer/go/internal/ipcstack"
	"github.com/secrets-engine/secrets-engine-ts/tests/interop-go-peer/go/internal/wire"
)

const launchEnv = "DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG"

type launchConfig struct {
	Name    string        `json:"name"`
	Timeout time.Duration `json:"timeout"`
	Fd      int           `json:"fd"`
}

type peer struct {
	ipc       *ipcstack.IPC
	tap       *wire.Conn
	logs      *wire.LogLines
	ctlMu     sync.Mutex
	ctl       net.Conn
	acceptDly time.Duration
}

func main() {
	control := flag.String("control", "", "unix socket of the test's control channel")
	role := flag.String("role", "client", "Go's yamux role: client (Docker's plugin) or server (Docker's engine)")
	openTimeout := flag.Duration("stream-open-timeout", 0, "override StreamOpenTimeout (default 75s)")
	closeTimeout := flag.Duration("stream-close-timeout", 0, "override StreamCloseTimeout (default 5m)")
	keepAlive := flag.Duration("keepalive-interval", 0, "override KeepAliveInterval (default 30s)")
	acceptDelay := flag.Duration("accept-delay", 0, "wait this long before the first Accept")
	flag.Parse()

	die := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "yamux-peer: "+format+"\n", args...)
		os.Exit(2)
	}
	raw, ok := os.LookupEnv(launchEnv)
	if !ok {
		die("%s is not set", launchEnv)
	}
	var lc launchConfig
	if err := json.Unmarshal([]byte(raw), &lc); err != nil {
		die("decoding %s: %v", launchEnv, err)
	}
	if lc.Name == "" || lc.Timeout == 0 || lc.Fd <= 2 {
		die("invalid launch configuration %s", raw)
	}
	f := os.NewFile(uintptr(lc.Fd), "ipc")
	conn, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		die("fd %d: %v", lc.Fd, err)
	}

	cfg := yamux.DefaultConfig()
	if *openTimeout > 0 {
		cfg.StreamOpenTimeout = *openTimeout
	}
	if *closeTimeout > 0 {
		cfg.StreamCloseTimeout = *closeTimeout
	}
	if *keepAlive > 0 {
		cfg.KeepAliveInterval = *keepAlive
	}
	p := &peer{tap: wire.NewConn(conn), logs: &wire.LogLines{Tee: os.Stderr}, acceptDly: *acceptDelay}
	cfg.LogOutput = p.logs

	ctl, err := net.Dial("unix", *control)
	if err != nil {
		die("control: %v", err)
	}
	p.ctl = ctl

	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		sleepQuery(r)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		sleepQuery(r)
		_, _ = io.WriteString(w, "slow-done")
	})
	mux.HandleFunc("/sha", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"sha256": hex.EncodeToString(h.Sum(nil)), "bytes": n})
	})
	mux.HandleFunc("/blob", func(w http.ResponseWriter, r *http.Request) {
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		body := make([]byte, size)
		_, _ = rand.Read(body)
		sum := sha256.Sum256(body)
		w.Header().Set("X-Sha256", hex.EncodeToString(sum[:]))
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = w.Write(body)
	})

	ipc, err := ipcstack.New(p.tap, *role == "server", cfg, mux, p.listen)
	if err != nil {
		die("yamux: %v", err)
	}
	p.ipc = ipc
	mods := map[string]string{}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			mods[d.Path] = d.Version
		}
	}
	p.send(map[string]any{"event": "hello", "pid": os.Getpid(), "goVersion": runtime.Version(), "modules": mods,
		"role": *role, "launchRaw": raw,
		"launch": map[string]any{"name": lc.Name, "timeoutNs": int64(lc.Timeout), "timeout": lc.Timeout.String(), "fd": lc.Fd},
		"config": map[string]any{"acceptBacklog": cfg.AcceptBacklog, "keepAliveInterval": cfg.KeepAliveInterval.String(),
			"connectionWriteTimeout": cfg.ConnectionWriteTimeout.String(), "maxStreamWindowSize": cfg.MaxStreamWindowSize,
			"streamOpenTimeout": cfg.StreamOpenTimeout.String(), "streamCloseTimeout": cfg.StreamCloseTimeout.String()}})
	go func() {
		<-ipc.Session.CloseChan()
		p.send(map[string]any{"event": "sessionClosed"})
	}()

	scanner := bufio.NewScanner(ctl)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		var cmd map[string]any
		if err := json.Unmarshal(scanner.Bytes(), &cmd); err != nil {
			die("bad command %q: %v", scanner.Text(), err)
		}
		go p.handle(cmd)
	}
	// The test closed the control channel: leave.
	os.Exit(0)
}

func sleepQuery(r *http.Request) {
	if ms, err := strconv.Atoi(r.URL.Query().Get("ms")); err == nil && ms > 0 {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
}

func (p *peer) send(v map[string]any) {
	b, _ := json.Marshal(v)
	p.ctlMu.Lock()
	defer p.ctlMu.Unlock()
	_, _ = p.ctl.Write(append(b, '\n'))
}

// --- the listener that splits RAW streams from HTTP ones ---

type listener struct {
	session *yamux.Session
	conns   chan net.Conn
	done    chan struct{}
	err     error
}

func (p *peer) listen(session *yamux.Session) net.Listener {
	l := &listener{session: session, conns: make(chan net.Conn), done: make(chan struct{})}
	go func() {
		if p.acceptDly > 0 {
			time.Sleep(p.acceptDly)
		}
		for {
			st, err := session.AcceptStream()
			if err != nil {
				l.err = err
				close(l.done)
				return
			}
			go p.classify(l, st)
		}
	}()
	return l
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, l.err
	}
}

func (l *listener) Close() error   { return l.session.Close() }
func (l *listener) Addr() net.Addr { return l.session.Addr() }

type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func (p *peer) classify(l *listener, st *yamux.Stream) {
	br := bufio.NewReader(st)
	head, err := br.Peek(4)
	if err != nil && len(head) == 0 {
		_ = st.Close()
		return
	}
	if string(head) != "RAW " {
		select {
		case l.conns <- &prefixConn{Conn: st, r: br}:
		case <-l.done:
			_ = st.Close()
		}
		return
	}
	line, err := br.ReadString('\n')
	if err != nil {
		_ = st.Close()
		return
	}
	p.raw(st, br, strings.Fields(strings.TrimSpace(line))[1:])
}

func pattern(i int) byte { return byte((i*7 + 3) % 251) }

func errInfo(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	return err.Error(), errors.Is(err, yamux.ErrConnectionReset)
}

func (p *peer) raw(st *yamux.Stream, r io.Reader, args []string) {
	kind, tag := args[0], args[1]
	n := 0
	if len(args) > 2 {
		n, _ = strconv.Atoi(args[2])
	}
	ev := map[string]any{"event": "raw", "kind": kind, "tag": tag, "streamId": st.StreamID()}
	start := time.Now()
	switch kind {
	case "sink":
		got, err := io.Copy(io.Discard, r)
		ev["bytes"] = got
		ev["error"], ev["reset"] = errInfo(err)
		_ = st.Close()
	case "source":
		h := sha256.New()
		buf := make([]byte, 64*1024)
		written := 0
		var err error
		for written < n && err == nil {
			chunk := buf[:min(len(buf), n-written)]
			for i := range chunk {
				chunk[i] = pattern(written + i)
			}
			var k int
			k, err = st.Write(chunk)
			h.Write(chunk[:k])
			written += k
		}
		ev["written"] = written
		ev["sha256"] = hex.EncodeToString(h.Sum(nil))
		ev["error"], ev["reset"] = errInfo(err)
		_ = st.Close()
	case "read-close":
		buf := make([]byte, n)
		got, err := io.ReadFull(r, buf)
		ev["read"] = got
		ev["error"], ev["reset"] = errInfo(err)
		_ = st.Close()
	default:
		ev["error"] = "unknown raw kind " + kind
		_ = st.Close()
	}
	ev["ms"] = time.Since(start).Milliseconds()
	p.send(ev)
}

// --- commands ---

func (p *peer) handle(cmd map[string]any) {
	id := cmd["id"]
	res, err := p.run(cmd)
	out := map[string]any{"id": id, "ok": err == nil}
	if err != nil {
		out["error"] = err.Error()
	}
	for k, v := range res {
		out[k] = v
	}
	p.send(out)
}

func num(cmd map[string]any, key string, def float64) float64 {
	if v, ok := cmd[key].(float64); ok {
		return v
	}
	return def
}

func str(cmd map[string]any, key, def string) string {
	if v, ok := cmd[key].(string); ok {
		return v
	}
	return def
}

func (p *peer) run(cmd map[string]any) (map[string]any, error) {
	s := p.ipc.Session
	switch cmd["cmd"] {
	case "ping":
		rtt, err := s.Ping()
		return map[string]any{"rttMs": float64(rtt.Microseconds()) / 1000}, err
	case "stats":
		lines := p.logs.Lines()
		return map[string]any{"frames": p.tap.Snapshot(), "log": lines, "numStreams": s.NumStreams(),
			"isClosed": s.IsClosed()}, nil
	case "delayWrites":
		p.tap.SetWriteDelay(time.Duration(num(cmd, "ms", 0)) * time.Millisecond)
		return nil, nil
	case "calls":
		return p.calls(cmd), nil
	case "idleOpen":
		return p.idleOpen(time.Duration(num(cmd, "holdMs", 0)) * time.Millisecond)
	case "teardown":
		res := p.ipc.Close(time.Duration(num(cmd, "timeoutMs", 2000)) * time.Millisecond)
		return map[string]any{"result": res, "isClosed": s.IsClosed()}, nil
	case "tryOpen":
		st, err := s.OpenStream()
		if err == nil {
			_ = st.Close()
			return map[string]any{"opened": true}, nil
		}
		return map[string]any{"opened": false, "error": err.Error(), "remoteGoAway": errors.Is(err, yamux.ErrRemoteGoAway),
			"sessionShutdown": errors.Is(err, yamux.ErrSessionShutdown)}, nil
	case "closeNow":
		return nil, s.Close()
	case "waitClosed":
		start := time.Now()
		select {
		case <-s.CloseChan():
		case <-time.After(time.Duration(num(cmd, "timeoutMs", 3000)) * time.Millisecond):
			return map[string]any{"closed": false}, nil
		}
		served := false
		serveErr := ""
		select {
		case <-p.ipc.Served():
			served = true
			if err := p.ipc.ServeErr(); err != nil {
				serveErr = err.Error()
			}
		case <-time.After(time.Second):
		}
		return map[string]any{"closed": true, "ms": time.Since(start).Milliseconds(), "served": served, "serveErr": serveErr}, nil
	}
	return nil, fmt.Errorf("unknown command %v", cmd["cmd"])
}

// calls makes `count` concurrent requests to the TS side, each on a new stream, and checks each
// answer: /echo returns the body, /sha the body's sha256, /blob a body matching its X-Sha256.
func (p *peer) calls(cmd map[string]any) map[string]any {
	count := int(num(cmd, "count", 1))
	size := int(num(cmd, "size", 0))
	path := str(cmd, "path", "/echo")
	start := time.Now()
	var mu sync.Mutex
	okCount := 0
	var errs []string
	var wg sync.WaitGroup
	for i := 0; i < count; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.call(path, size)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				okCount++
			} else if len(errs) < 5 {
				errs = append(errs, err.Error())
			}
		}()
	}
	wg.Wait()
	if errs == nil {
		errs = []string{}
	}
	return map[string]any{"okCount": okCount, "failed": count - okCount, "errors": errs, "ms": time.Since(start).Milliseconds()}
}

func (p *peer) call(path string, size int) error {
	body := make([]byte, size)
	_, _ = rand.Read(body)
	method := http.MethodPost
	if strings.HasPrefix(path, "/blob") || strings.HasPrefix(path, "/health") {
		method = http.MethodGet
		body = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, ipcstack.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	res, err := p.ipc.Client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("reading the response: %w", err)
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("status %d: %s", res.StatusCode, got)
	}
	switch {
	case strings.HasPrefix(path, "/echo"):
		if !bytes.Equal(got, body) {
			return fmt.Errorf("echo: got %d bytes, sent %d", len(got), len(body))
		}
	case strings.HasPrefix(path, "/sha"):
		var ans struct {
			Sha256 string `json:"sha256"`
			Bytes  int    `json:"bytes"`
		}
		if err := json.Unmarshal(got, &ans); err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		if ans.Sha256 != hex.EncodeToString(sum[:]) || ans.Bytes != len(body) {
			return fmt.Errorf("sha: peer saw %d bytes %s, sent %d bytes %x", ans.Bytes, ans.Sha256, len(body), sum)
		}
	case strings.HasPrefix(path, "/blob"):
		sum := sha256.Sum256(got)
		if res.Header.Get("X-Sha256") != hex.EncodeToString(sum[:]) {
			return fmt.Errorf("blob: got %d bytes %x, peer sent %s", len(got), sum, res.Header.Get("X-Sha256"))
		}
	case strings.HasPrefix(path, "/slow"):
		if string(got) != "slow-done" {
			return fmt.Errorf("slow: %q", got)
		}
	}
	return nil
}

// idleOpen opens a stream, sends nothing for `hold`, then uses it for one HTTP request.
func (p *peer) idleOpen(hold time.Duration) (map[string]any, error) {
	st, err := p.ipc.Session.OpenStream()
	if err != nil {
		return nil, err
	}
	defer st.Close()
	time.Sleep(hold)
	out := map[string]any{"aliveAfterHold": !p.ipc.Session.IsClosed(), "streamId": st.StreamID()}
	if _, err := io.WriteString(st, "GET /health HTTP/1.1\r\nHost: unix\r\nConnection: close\r\n\r\n"); err != nil {
		return out, err
	}
	_ = st.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(st), nil)
	if err != nil {
		return out, err
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	out["status"] = res.StatusCode
	out["body"] = string(body)
	return out, nil
}
