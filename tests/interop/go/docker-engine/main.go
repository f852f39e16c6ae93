// docker-engine: Docker's Go secrets engine in a process of its own. Docker ships no main for its
// engine; this one only calls the public engine.Run of Docker's tree fa7ff078 (the last tree with
// engine/, whose plugin/ equals tag plugin/v0.0.21), built against that tree's vendored workspace
// (tests/interop/README.md). Used by docker-engine.test.ts to run OUR plugin SDK under Docker's
// engine.
//
//	docker-engine -socket PATH -plugins DIR [-name NAME] [-version VERSION] [-shutdown-timeout D]
//	              [-registration-timeout D]
//
// Once the engine is healthy it prints one JSON line on stdout: {"ready":true,"pid":N}. SIGINT or
// SIGTERM cancels Run's context, which is Docker's own clean shutdown (Shutdown RPC to every
// plugin, then SIGINT to launched ones). Exit 0 when Run returned nil, 1 with the error on stderr.
// Docker's engine logs on stderr.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/docker/secrets-engine/engine"
)

func main() {
	socket := flag.String("socket", "", "engine socket path")
	plugins := flag.String("plugins", "", "plugins folder")
	name := flag.String("name", "docker-secrets-engine", "engine name")
	version := flag.String("version", "v0.0.21", "engine version")
	shutdownTimeout := flag.Duration("shutdown-timeout", 0, "engine.SetPluginShutdownTimeout (0: Docker's default)")
	registrationTimeout := flag.Duration("registration-timeout", 0, "engine.SetPluginRegistrationTimeout (0: Docker's default)")
	flag.Parse()
	if *socket == "" || *plugins == "" {
		fmt.Fprintln(os.Stderr, "usage: docker-engine -socket PATH -plugins DIR [-name NAME] [-version VERSION] [-shutdown-timeout D] [-registration-timeout D]")
		os.Exit(2)
	}
	if *shutdownTimeout > 0 {
		engine.SetPluginShutdownTimeout(*shutdownTimeout)
	}
	if *registrationTimeout > 0 {
		engine.SetPluginRegistrationTimeout(*registrationTimeout)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	err := engine.Run(ctx, *name, *version,
		engine.WithSocketPath(*socket),
		engine.WithPluginPath(*plugins),
		engine.WithAfterHealthyHook(func(context.Context) error {
			return json.NewEncoder(os.Stdout).Encode(map[string]any{"ready": true, "pid": os.Getpid()})
		}),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "docker-engine: engine.Run failed after %s: %v\n", time.Since(started).Round(time.Millisecond), err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "docker-engine: engine.Run returned nil")
}
