// Package ipc is the plugin side of the secrets-engine transport, written from protocol.md
// (§1.3 launch config, §2 yamux + HTTP/1.1 + Connect, §3.2 hijack, §2.4 and §7.1 close) on top of
// the same Go libraries Docker's SDK uses: hashicorp/yamux v0.1.2 with DefaultConfig, net/http
// servers on the session and an http.Client with one new stream per request.
//
// It is OUR code, not Docker's: it lets the interop suite exercise the real Go stack even where
// Docker's own modules cannot be fetched (see tests/interop/README.md).
package ipc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// LaunchEnv is the variable an engine sets for the plugins it launches (§1.3).
const LaunchEnv = "DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG"

// LaunchConfig is the JSON payload of LaunchEnv on Unix (§1.3); Timeout is a time.Duration in ns.
type LaunchConfig struct {
	Name    string        `json:"name"`
	Timeout time.Duration `json:"timeout"`
	Fd      int           `json:"fd"`
}

// ParseLaunchConfig validates the payload like Docker's NewPluginConfigFromEngineEnv (§1.3).
func ParseLaunchConfig(raw string) (LaunchConfig, error) {
	var c LaunchConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return c, fmt.Errorf("decoding %s: %w", LaunchEnv, err)
	}
	if c.Name == "" {
		return c, errors.New("plugin name is required")
	}
	if c.Timeout == 0 {
		return c, errors.New("plugin registration timeout is required")
	}
	if c.Fd <= 2 {
		return c, errors.New("invalid file descriptor for plugin connection")
	}
	return c, nil
}

// ConnFromFd adopts the socket the engine passed (fd 3, §1.2).
func ConnFromFd(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "fd #"+strconv.Itoa(fd))
	if f == nil {
		return nil, fmt.Errorf("failed to open fd %d", fd)
	}
	defer f.Close()
	return net.FileConn(f)
}

const hijackTimeout = 2 * time.Second

// DialAndHijack dials the engine socket and upgrades it on /hijack (§3.2): Go's own request
// writer and lenient response reader, and the bufio reader kept so no byte after the 101 is lost.
func DialAndHijack(socketPath string) (net.Conn, error) {
	conn, err := net.Dial("unix", socketPath)
	if err != nil {
		return nil, err
	}
	if err := conn.SetDeadline(time.Now().Add(hijackTimeout)); err != nil {
		conn.Close()
		return nil, err
	}
	req, err := http.NewRequest(http.MethodGet, "http://secrets-engine.localhost/hijack", nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	req.Header.Set("Connection", "upgrade")
	req.Header.Set("Upgrade", "tcp")
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		conn.Close()
		return nil, fmt.Errorf("external plugin rejected: unexpected status %d: %s", resp.StatusCode, body)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return nil, err
	}
	return &bufferedConn{Conn: conn, r: br}, nil
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// IPC is one plugin connection: the plugin is the yamux CLIENT (odd stream IDs, §2.1), serves
// HTTP/1.1 on accepted streams and calls the engine with one new stream per request (§2.3).
type IPC struct {
	Session *yamux.Session
	Client  *http.Client
	server  *http.Server
	done    chan struct{}
	err     error
	once    sync.Once
	logger  *log.Logger
}

// BaseURL of every in-IPC Connect client (§2.3).
const BaseURL = "http://unix"

// New starts yamux (DefaultConfig, §2.2) and the HTTP server on conn.
func New(conn net.Conn, handler http.Handler, logger *log.Logger) (*IPC, error) {
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = nil
	cfg.Logger = logger
	session, err := yamux.Client(conn, cfg)
	if err != nil {
		return nil, err
	}
	i := &IPC{
		Session: session,
		server:  &http.Server{Handler: handler},
		done:    make(chan struct{}),
		logger:  logger,
	}
	i.Client = &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			return session.Open()
		},
	}}
	go func() {
		err := i.server.Serve(session)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		i.err = err
		close(i.done)
	}()
	return i, nil
}

// Done is closed when the HTTP server stops (the session closed locally or by the engine).
func (i *IPC) Done() <-chan struct{} { return i.done }

// Err is why the server stopped: nil after a local Close, io.EOF when the engine went away.
func (i *IPC) Err() error { return i.err }

// Close mirrors Docker's ipc.Close (§2.4): GoAway, close idle client connections, wait up to 2 s
// for open streams to drain, then close the server and the session (and so the socket).
func (i *IPC) Close() {
	i.once.Do(func() {
		_ = i.Session.GoAway()
		i.Client.CloseIdleConnections()
		deadline := time.Now().Add(2 * time.Second)
		for i.Session.NumStreams() > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := i.Session.NumStreams(); n > 0 {
			i.logger.Printf("Timeout expired but %d streams still open", n)
		}
		_ = i.server.Close()
		_ = i.Session.Close()
	})
	<-i.done
}
