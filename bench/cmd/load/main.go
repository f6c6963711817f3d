// Command load is the HTTP load generator of the end-to-end benchmarks: it
// sends GET requests with a bearer token from -c keep-alive connections for
// a warm-up and then for -d, and prints one JSON line with the request
// count, requests per second and latency percentiles of the measured phase.
//
//	load -url http://127.0.0.1:PORT/ -token-file tokens.txt -c 16 -d 2s
//
// It runs as a separate process so that the server under test does not
// share its Go runtime (scheduler, GC) with the client.
//
// With -control and several -url flags it loads the targets in slices that
// its parent chooses, so that two servers can be compared in interleaved
// slices of a few milliseconds, each slice seeing the same load of a shared
// machine. It reads one command per line from stdin:
//
//	warm <i> <duration>   load target i (0-based, in -url order) unmeasured
//	run <i> <duration>    load target i and add the slice to its results
//
// answers each with one JSON line (the slice's Slice), and at the end of
// its input prints one JSON line {"targets": [Result, …]} with every
// target's measured slices combined. Each target has its own -c
// connections, kept alive across slices; a slice runs no request of any
// other target.
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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Result is the JSON line load prints (one per target with -control).
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
	CPUNs      int64            `json:"cpu_ns"` // CPU time of this process while it loaded the target
}

// Slice is the answer to one -control command.
type Slice struct {
	Target   int     `json:"target"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	CPUNs    int64   `json:"cpu_ns"`
}

// Final is the last line of -control mode.
type Final struct {
	Targets []Result `json:"targets"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(stdin io.Reader, stdout io.Writer) error {
	var urls []string
	flag.Func("url", "URL to GET (required; repeated with -control)", func(s string) error {
		urls = append(urls, s)
		return nil
	})
	tokenFile := flag.String("token-file", "", "file with one bearer token per line; none: no Authorization header")
	conns := flag.Int("c", 16, "concurrent connections (per target)")
	dur := flag.Duration("d", 2*time.Second, "measured duration")
	warmup := flag.Duration("warmup", 300*time.Millisecond, "unmeasured warm-up")
	control := flag.Bool("control", false, "read warm/run commands from stdin (see the package doc)")
	flag.Parse()
	if len(urls) == 0 || *conns < 1 || *dur <= 0 || (len(urls) > 1 && !*control) {
		return errors.New("-url (once, or repeated with -control), -c ≥ 1 and -d > 0 are required")
	}
	var auth [][]string
	if *tokenFile != "" {
		tokens, err := readTokens(*tokenFile)
		if err != nil {
			return err
		}
		auth = authValues(tokens)
	}
	targets := make([]*target, len(urls))
	for i, u := range urls {
		targets[i] = newTarget(u, auth, *conns)
	}
	if *control {
		return controlled(targets, stdin, stdout)
	}
	t := targets[0]
	if *warmup > 0 {
		t.slice(*warmup, false)
	}
	t.slice(*dur, true)
	return json.NewEncoder(stdout).Encode(t.result())
}

// controlled runs the commands of stdin.
func controlled(targets []*target, stdin io.Reader, stdout io.Writer) error {
	enc := json.NewEncoder(stdout)
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 || (f[0] != "warm" && f[0] != "run") {
			return fmt.Errorf("command %q: want warm|run <target> <duration>", sc.Text())
		}
		i, err := strconv.Atoi(f[1])
		if err != nil || i < 0 || i >= len(targets) {
			return fmt.Errorf("command %q: no such target", sc.Text())
		}
		d, err := time.ParseDuration(f[2])
		if err != nil || d <= 0 {
			return fmt.Errorf("command %q: bad duration", sc.Text())
		}
		s := targets[i].slice(d, f[0] == "run")
		s.Target = i
		if err := enc.Encode(s); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	var out Final
	for _, t := range targets {
		out.Targets = append(out.Targets, t.result())
	}
	return enc.Encode(out)
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

// authValues builds the Authorization header values once: a request costs
// the client the same whatever its token, except for sending it.
func authValues(tokens []string) [][]string {
	auth := make([][]string, len(tokens))
	for i, t := range tokens {
		auth[i] = []string{"Bearer " + t}
	}
	return auth
}

// target is one URL with its own keep-alive connections and the results of
// its measured slices.
type target struct {
	client *http.Client
	url    string
	auth   [][]string
	conns  int

	lats     []int64
	statuses map[string]int64
	requests int64
	errors   int64
	warm     int64
	seconds  float64
	cpu      int64
}

func newTarget(url string, auth [][]string, conns int) *target {
	tr := &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	return &target{
		client:   &http.Client{Transport: tr, Timeout: 10 * time.Second},
		url:      url,
		auth:     auth,
		conns:    conns,
		statuses: map[string]int64{},
	}
}

// slice loads t for d; measured slices add to t's results.
func (t *target) slice(d time.Duration, measure bool) Slice {
	cpu0 := cpuNanos()
	res, lats := drive(t.client, t.url, t.auth, t.conns, d, measure)
	cpu := cpuNanos() - cpu0
	if !measure {
		t.warm += res.Requests + res.Errors
		return Slice{Requests: res.Requests, Errors: res.Errors, Seconds: res.Seconds, CPUNs: cpu}
	}
	t.lats = append(t.lats, lats...)
	for k, v := range res.Statuses {
		t.statuses[k] += v
	}
	t.requests += res.Requests
	t.errors += res.Errors
	t.seconds += res.Seconds
	t.cpu += cpu
	return Slice{Requests: res.Requests, Errors: res.Errors, Seconds: res.Seconds, CPUNs: cpu}
}

// result combines t's measured slices.
func (t *target) result() Result {
	res := Result{
		Requests:   t.requests,
		Warmup:     t.warm,
		Errors:     t.errors,
		Seconds:    t.seconds,
		Connection: t.conns,
		CPUNs:      t.cpu,
	}
	if len(t.statuses) > 0 {
		res.Statuses = t.statuses
	}
	lats := slices.Clone(t.lats)
	slices.Sort(lats)
	if n := len(lats); n > 0 && t.seconds > 0 {
		res.RPS = float64(n) / t.seconds
		res.P50Ns = lats[n*50/100]
		res.P99Ns = lats[min(n-1, n*99/100)]
		res.MaxNs = lats[n-1]
	}
	return res
}

// drive runs conns workers for d, sending auth values in turn, and when
// measure is set returns every successful request's latency, unsorted.
func drive(client *http.Client, url string, auth [][]string, conns int, d time.Duration, measure bool) (Result, []int64) {
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
			var local []int64
			if measure {
				local = make([]int64, 0, 1<<12)
			}
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
	res := Result{
		Requests:   done.Load(),
		Errors:     errs.Load(),
		Seconds:    time.Since(start).Seconds(),
		Connection: conns,
	}
	if len(statuses) > 0 {
		res.Statuses = statuses
	}
	return res, lats
}
