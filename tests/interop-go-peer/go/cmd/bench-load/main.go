// bench-load: the one load driver of the end-to-end benchmark (packages/bench, "e2e"). It drives
// every setup alike: a connect-go ResolverService client on net/http configured as Docker's client
// module is (HTTP/1.1 keep-alive transport on the unix socket, base URL http://unix; the same
// transport as ../../../../interop/go/gostack/cmd/client), -concurrency workers sharing -count
// GetSecrets calls after -warmup untimed ones. It prints one JSON object on stdout:
//
//	{"count","concurrency","errors","firstError","overDeadline","wallMs","callsPerSec",
//	 "p50Us","p90Us","p99Us","maxUs"}
//
// Percentiles are nearest-rank over every timed call (errors included: a failed call is a call).
// overDeadline counts calls slower than -deadline (no call is cut short: the deadline is counted,
// not enforced, so every latency is known). Exit 0 unless the arguments are wrong or the engine
// cannot be reached at all.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	resolverv1 "secrets-engine-interop/gostack/gen/resolver/v1"
	"secrets-engine-interop/gostack/gen/resolver/v1/resolverv1connect"
)

func main() {
	socket := flag.String("socket", "", "engine socket")
	pattern := flag.String("pattern", "", "the GetSecrets pattern")
	count := flag.Int("count", 1000, "timed calls")
	warmup := flag.Int("warmup", 100, "untimed calls first")
	concurrency := flag.Int("concurrency", 1, "calls in flight")
	deadline := flag.Duration("deadline", time.Second, "a call slower than this counts in overDeadline")
	expect := flag.Int("expect", 1, "envelopes a successful answer must hold")
	flag.Parse()
	if *socket == "" || *pattern == "" || *count < 1 || *concurrency < 1 || *warmup < 0 {
		fmt.Fprintln(os.Stderr, "usage: bench-load -socket PATH -pattern P [-count N] [-warmup N] [-concurrency N] [-deadline D] [-expect N]")
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
	client := resolverv1connect.NewResolverServiceClient(httpClient, "http://unix")
	call := func() error {
		res, err := client.GetSecrets(context.Background(), connect.NewRequest(&resolverv1.GetSecretsRequest{Pattern: pattern}))
		if err != nil {
			return err
		}
		if n := len(res.Msg.GetEnvelopes()); n != *expect {
			return fmt.Errorf("%d envelopes, expected %d", n, *expect)
		}
		return nil
	}
	run := func(n int, lat []int64) (errs int64, first error) {
		var next atomic.Int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		var errCount atomic.Int64
		for w := 0; w < *concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(n) {
						return
					}
					t := time.Now()
					err := call()
					if lat != nil {
						lat[i] = time.Since(t).Microseconds()
					}
					if err != nil {
						errCount.Add(1)
						mu.Lock()
						if first == nil {
							first = err
						}
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		return errCount.Load(), first
	}
	if *warmup > 0 {
		if errs, first := run(*warmup, nil); errs == int64(*warmup) {
			fmt.Fprintf(os.Stderr, "bench-load: every warm-up call failed: %v\n", first)
			os.Exit(1)
		}
	}
	lat := make([]int64, *count)
	start := time.Now()
	errs, first := run(*count, lat)
	wall := time.Since(start)
	sorted := append([]int64(nil), lat...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	rank := func(q float64) int64 {
		i := int(math.Ceil(q*float64(len(sorted)))) - 1
		if i < 0 {
			i = 0
		}
		return sorted[i]
	}
	over := 0
	for _, l := range lat {
		if time.Duration(l)*time.Microsecond > *deadline {
			over++
		}
	}
	firstErr := ""
	if first != nil {
		firstErr = first.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
		"count": *count, "concurrency": *concurrency, "errors": errs, "firstError": firstErr,
		"overDeadline": over, "wallMs": float64(wall.Microseconds()) / 1000,
		"callsPerSec": float64(*count) / wall.Seconds(),
		"p50Us":       rank(0.5), "p90Us": rank(0.9), "p99Us": rank(0.99), "maxUs": sorted[len(sorted)-1],
	})
}
