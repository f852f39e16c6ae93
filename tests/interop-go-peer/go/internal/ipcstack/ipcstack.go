// Package ipcstack is the transport stack of Docker's x/ipc, written from its description in
// protocol.md §2 (no Docker source is used): a hashicorp/yamux v0.1.2 session with
// yamux.DefaultConfig(), a net/http server that uses the session as its net.Listener (plain
// HTTP/1.1, no timeouts), and an http.Client whose dialer opens a new yamux stream per request with
// keep-alives disabled, base URL http://unix. Close follows §2.4: GoAway, close idle connections,
// wait (polling every 50 ms) for the streams to drain, close the server, close the session.
package ipcstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// BaseURL of every in-IPC Connect client (§2.3).
const BaseURL = "http://unix"

// IPC is one side of a plugin connection.
type IPC struct {
	Session   *yamux.Session
	Server    *http.Server
	Client    *http.Client
	transport *http.Transport
	serveDone chan struct{}
	serveErr  error
	closeOnce sync.Once
	closeRes  CloseResult
}

// New starts the stack on conn. server picks the yamux role (the engine is the server, §2.1).
// listen, if set, turns the session into the HTTP server's listener (default: the session).
func New(conn io.ReadWriteCloser, server bool, cfg *yamux.Config, handler http.Handler,
	listen func(*yamux.Session) net.Listener) (*IPC, error) {
	var session *yamux.Session
	var err error
	if server {
		session, err = yamux.Server(conn, cfg)
	} else {
		session, err = yamux.Client(conn, cfg)
	}
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			return session.Open()
		},
	}
	ipc := &IPC{
		Session:   session,
		Server:    &http.Server{Handler: handler},
		Client:    &http.Client{Transport: transport},
		transport: transport,
		serveDone: make(chan struct{}),
	}
	var l net.Listener = session
	if listen != nil {
		l = listen(session)
	}
	go func() {
		defer close(ipc.serveDone)
		ipc.serveErr = ipc.Server.Serve(l)
	}()
	return ipc, nil
}

// Served is closed once the HTTP server's Serve has returned.
func (i *IPC) Served() <-chan struct{} { return i.serveDone }

// ServeErr is what Serve returned (valid once Served is closed).
func (i *IPC) ServeErr() error { return i.serveErr }

// CloseResult reports one Close.
type CloseResult struct {
	GoAwayErr string `json:"goAwayErr"`
	Drained   bool   `json:"drained"`
	Remaining int    `json:"remaining"`
	DrainMs   int64  `json:"drainMs"`
	Log       string `json:"log"`
}

// Close runs the §2.4 teardown once; later calls return the first result.
func (i *IPC) Close(timeout time.Duration) CloseResult {
	i.closeOnce.Do(func() {
		res := CloseResult{}
		if err := i.Session.GoAway(); err != nil && !errors.Is(err, yamux.ErrSessionShutdown) {
			res.GoAwayErr = err.Error()
		}
		i.transport.CloseIdleConnections()
		start := time.Now()
		deadline := start.Add(timeout)
		for i.Session.NumStreams() > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		res.DrainMs = time.Since(start).Milliseconds()
		res.Remaining = i.Session.NumStreams()
		res.Drained = res.Remaining == 0
		if !res.Drained {
			res.Log = fmt.Sprintf("Timeout expired but %d streams still open", res.Remaining)
		}
		_ = i.Server.Close()
		_ = i.Session.Close()
		i.closeRes = res
	})
	return i.closeRes
}
