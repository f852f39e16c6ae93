// docker-plugin-old: a secrets-provider plugin built with Docker's published Go SDK
// github.com/docker/secrets-engine/plugin v0.0.21 (OLD protocol: resolver.v1 registration and
// shutdown, protocol.md §4.1, §9 "OLD SDK"). Environment
// contract: see tests/interop/README.md (the same as gostack/cmd/plugin).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/docker/secrets-engine/plugin"
	"github.com/docker/secrets-engine/x/secrets"
)

type secret struct {
	ID        string            `json:"id"`
	Value     []byte            `json:"value"`
	Version   string            `json:"version"`
	Metadata  map[string]string `json:"metadata"`
	CreatedAt time.Time         `json:"createdAt"`
	ExpiresAt time.Time         `json:"expiresAt"`
}

type provider struct {
	store   []secret
	errorOn string
}

func (p *provider) GetSecrets(_ context.Context, pattern plugin.Pattern) ([]plugin.Envelope, error) {
	if pattern.String() == p.errorOn {
		return nil, errors.New("boom")
	}
	var out []plugin.Envelope
	for _, s := range p.store {
		id, err := secrets.ParseID(s.ID)
		if err != nil || !pattern.Match(id) {
			continue
		}
		metadata := map[string]string{"requested": pattern.String()}
		for k, v := range s.Metadata {
			metadata[k] = v
		}
		out = append(out, plugin.Envelope{
			ID: id, Value: s.Value, Version: s.Version, Metadata: metadata,
			CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt,
		})
	}
	if len(out) == 0 {
		return nil, secrets.ErrNotFound
	}
	return out, nil
}

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
	fmt.Fprintf(os.Stderr, "docker-plugin-old: exiting with code %d: %s\n", code, reason)
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
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if dir := os.Getenv("INTEROP_PID_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), nil, 0o644)
		if os.Getenv("INTEROP_HELPER") == "1" {
			if err := startHelper(dir); err != nil {
				return 2, "starting the helper: " + err.Error()
			}
		}
	}
	p := &provider{errorOn: os.Getenv("INTEROP_ERROR_ON")}
	if err := loadSecrets(&p.store); err != nil {
		return 2, err.Error()
	}
	version, err := plugin.NewVersion(envOr("INTEROP_VERSION", "v0.0.1"))
	if err != nil {
		return 2, err.Error()
	}
	pattern, err := plugin.ParsePattern(envOr("INTEROP_PATTERN", "go/**"))
	if err != nil {
		return 2, err.Error()
	}
	var opts []plugin.ManualLaunchOption
	if _, launched := os.LookupEnv("DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG"); !launched {
		// v0.0.x dials DefaultSocketPath() (engine.sock) by default: dial the test's socket and hand
		// the connection over; the SDK then does the /hijack upgrade on it (§3.2).
		conn, err := net.Dial("unix", os.Getenv("INTEROP_SOCKET"))
		if err != nil {
			return 2, err.Error()
		}
		opts = append(opts, plugin.WithConnection(conn))
		if name := os.Getenv("INTEROP_NAME"); name != "" {
			opts = append(opts, plugin.WithPluginName(name))
		}
	}
	stub, err := plugin.New(p, plugin.Config{Version: version, Pattern: pattern}, opts...)
	if err != nil {
		return 1, "creating the plugin: " + err.Error()
	}
	if err := stub.Run(ctx); err != nil {
		return 1, "run: " + err.Error()
	}
	if ctx.Err() != nil {
		return 0, "signal"
	}
	return 0, "run returned nil"
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
