// Command load is the HTTP load generator of the end-to-end benchmarks: it
// sends GET requests with a bearer token from -c keep-alive connections for
// a warm-up and then for -d, and prints one JSON line with the request
// count, requests per second and latency percentiles of the measured phase.
//
//	load -url http://127.0.0.1:PORT/ -token-file tokens.txt -c 16 -d 2s
//
// It runs as a separate process so that the server under test does not
// share its Go runtime (scheduler, GC) with the client.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Result is the JSON line load prints.
type Result struct {
	Requests   int64            `json:"requests"`
	Warmup     int64            `json:"warmup_requests"` // answered during the warm-up
	Errors     int64            `json:"errors"`
	Statuses   map[string]int64 `json:"statuses,omitempty"` // non-200 statuses and transport errors
	Seconds    float64          `json:"seconds"`
	RPS        float64          `json:"rps"`
	P50Ns      int64            `json:"p50_ns"`
	P99Ns      int64            `json:"p99_ns"`
	MaxNs      int64            `json:"max_ns"`
	Connection int              `json:"connections"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("url", "", "URL to GET (required)")
	tokenFile := flag.String("token-file", "", "file with one bearer token per line; none: no Authorization header")
	conns := flag.Int("c", 16, "concurrent connections")
	dur := flag.Duration("d", 2*time.Second, "measured duration")
	warmup := flag.Duration("warmup", 300*time.Millisecond, "unmeasured warm-up")
	flag.Parse()
	if *url == "" || *conns < 1 || *dur <= 0 {
		return errors.New("-url, -c ≥ 1 and -d > 0 are required")
	}
	var tokens []string
	if *tokenFile != "" {
		var err error
		if tokens, err = readTokens(*tokenFile); err != nil {
			return err
		}
	}
	tr := &http.Transport{
		MaxIdleConns:        *conns,
		MaxIdleConnsPerHost: *conns,
		MaxConnsPerHost:     *conns,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	var warm Result
	if *warmup > 0 {
		warm = drive(client, *url, tokens, *conns, *warmup, false)
	}
	res := drive(client, *url, tokens, *conns, *dur, true)
	res.Warmup = warm.Requests + warm.Errors
	return json.NewEncoder(os.Stdout).Encode(res)
}

func readTokens(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			out = append(out, t)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New(path + ": no token")
	}
	return out, nil
}

// drive runs conns workers for d and, when measure is set, collects every
// request's latency.
func drive(client *http.Client, url string, tokens []string, conns int, d time.Duration, measure bool) Result {
	// The header values are built once: a request costs the client the
	// same whether or not it carries a token, except for sending it.
	auth := make([][]string, len(tokens))
	for i, t := range tokens {
		auth[i] = []string{"Bearer " + t}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu       sync.Mutex
		done     atomic.Int64
		lats     []int64
		statuses = map[string]int64{}
		errs     atomic.Int64
		wg       sync.WaitGroup
	)
	start := time.Now()
	for w := range conns {
		wg.Go(func() {
			local := make([]int64, 0, 1<<14)
			bad := map[string]int64{}
			for i := w; ctx.Err() == nil; i += conns {
				req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
				if err != nil {
					bad["request: "+err.Error()]++
					break
				}
				if len(auth) > 0 {
					req.Header["Authorization"] = auth[i%len(auth)]
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					bad["transport"]++
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat := time.Since(t0)
				if resp.StatusCode != http.StatusOK {
					bad[resp.Status]++
					errs.Add(1)
					continue
				}
				done.Add(1)
				if measure {
					local = append(local, int64(lat))
				}
			}
			mu.Lock()
			lats = append(lats, local...)
			for k, v := range bad {
				statuses[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lats)
	res := Result{
		Requests:   done.Load(),
		Errors:     errs.Load(),
		Seconds:    elapsed.Seconds(),
		Connection: conns,
	}
	if len(statuses) > 0 {
		res.Statuses = statuses
	}
	if n := len(lats); n > 0 {
		res.RPS = float64(n) / elapsed.Seconds()
		res.P50Ns = lats[n*50/100]
		res.P99Ns = lats[min(n-1, n*99/100)]
		res.MaxNs = lats[n-1]
	}
	return res
}
