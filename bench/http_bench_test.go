package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"

	"github.com/tokenwarden/tokenwarden/bench/internal/fixture"
)

var (
	loadDuration = flag.Duration("bench.load", 2*time.Second, "measured duration of each end-to-end HTTP benchmark")
	loadConns    = flag.Int("bench.conns", 16, "connections of the load generator (to each server)")
	loadSlice    = flag.Duration("bench.slice", 100*time.Millisecond, "length of the alternating slices of an end-to-end HTTP benchmark and its bare reference")
)

// toolDir holds the commands built for this process.
var (
	toolDirMu sync.Mutex
	toolDir   string
)

// buildTool builds the command ./cmd/<name> into toolDir.
func buildTool(name string) (string, error) {
	toolDirMu.Lock()
	defer toolDirMu.Unlock()
	if toolDir == "" {
		dir, err := os.MkdirTemp("", "tokenwarden-bench-tools-")
		if err != nil {
			return "", err
		}
		toolDir = dir
	}
	bin := filepath.Join(toolDir, name)
	out, err := exec.Command("go", "build", "-o", bin, "./cmd/"+name).CombinedOutput()
	if err != nil {
		return "", &buildError{name: name, err: err, out: string(out)}
	}
	return bin, nil
}

// loadBinary builds cmd/load once per process.
var loadBinary = sync.OnceValues(func() (string, error) { return buildTool("load") })

type buildError struct {
	name string
	err  error
	out  string
}

func (e *buildError) Error() string {
	return "bench: building cmd/" + e.name + ": " + e.err.Error() + "\n" + e.out
}

// removeTools removes the commands built for this process.
func removeTools() {
	toolDirMu.Lock()
	defer toolDirMu.Unlock()
	if toolDir != "" {
		_ = os.RemoveAll(toolDir)
	}
}

// loadResult is one target of the last line cmd/load prints.
type loadResult struct {
	Requests int64            `json:"requests"`
	Warmup   int64            `json:"warmup_requests"`
	Errors   int64            `json:"errors"`
	Statuses map[string]int64 `json:"statuses"`
	RPS      float64          `json:"rps"`
	P50Ns    int64            `json:"p50_ns"`
	P99Ns    int64            `json:"p99_ns"`
	CPUNs    int64            `json:"cpu_ns"`
}

// sliceAnswer is cmd/load's answer to one command.
type sliceAnswer struct {
	Target   int   `json:"target"`
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
}

// serverUse is what this process (the API servers) spent on one target's
// measured slices.
type serverUse struct {
	cpu, mallocs, bytes int64
}

// runLoad compares the server at url with the bare handler at bareURL. It
// drives both from one cmd/load process (-control), in alternating slices
// of -bench.slice (AB, BA, AB…, half of -bench.load each, after a warm-up
// of each), so both see the same load of a shared machine, and measures
// around every slice the CPU time and allocations of this process, where
// the servers run. It reports the row's req/s, p50, p99, ns/op as
// 1/(req/s), allocations, the CPU time of the server and of the load
// generator per request, and its ratios to the bare handler measured in
// the same slices: x-bare-rps (req/s) and x-bare-server-cpu (server CPU
// per request); CPU time does not count the time a process waits for a
// core. It returns the number of requests url served (warm-up included).
func runLoad(b *testing.B, url, bareURL string, tokens []string) float64 {
	b.Helper()
	bin, err := loadBinary()
	if err != nil {
		b.Fatal(err)
	}
	f := filepath.Join(b.TempDir(), "tokens")
	if err := os.WriteFile(f, []byte(strings.Join(tokens, "\n")), 0o600); err != nil {
		b.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-control", "-url", url, "-url", bareURL, "-c", strconv.Itoa(*loadConns), "-token-file", f)
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	out := bufio.NewScanner(stdout)
	fail := func(format string, args ...any) {
		b.Helper()
		b.Fatalf("load: "+format+": %s", append(args, stderr.String())...)
	}
	var use [2]serverUse
	var ms runtime.MemStats
	command := func(verb string, i int, d time.Duration) {
		runtime.ReadMemStats(&ms)
		cpu0, m0, b0 := cpuNanos(), ms.Mallocs, ms.TotalAlloc
		if _, err := fmt.Fprintf(stdin, "%s %d %s\n", verb, i, d); err != nil {
			fail("%v", err)
		}
		if !out.Scan() {
			fail("no answer to %s %d", verb, i)
		}
		cpu := cpuNanos() - cpu0
		runtime.ReadMemStats(&ms)
		var sl sliceAnswer
		if err := json.Unmarshal(out.Bytes(), &sl); err != nil || sl.Target != i {
			fail("answer %q", out.Bytes())
		}
		if sl.Errors > 0 {
			fail("%d errors in a slice of target %d", sl.Errors, i)
		}
		if verb == "run" {
			use[i].cpu += cpu
			use[i].mallocs += int64(ms.Mallocs - m0)
			use[i].bytes += int64(ms.TotalAlloc - b0)
		}
	}
	for i := range 2 {
		command("warm", i, 300*time.Millisecond)
	}
	for k := range max(1, int(*loadDuration/(2**loadSlice))) {
		first := k % 2
		command("run", first, *loadSlice)
		command("run", 1-first, *loadSlice)
	}
	if err := stdin.Close(); err != nil {
		fail("%v", err)
	}
	if !out.Scan() {
		fail("no result")
	}
	var final struct {
		Targets []loadResult `json:"targets"`
	}
	if err := json.Unmarshal(out.Bytes(), &final); err != nil || len(final.Targets) != 2 {
		fail("result %q", out.Bytes())
	}
	row, bare := final.Targets[0], final.Targets[1]
	for _, r := range final.Targets {
		if r.Errors > 0 || r.Requests == 0 {
			fail("%d requests, %d errors %v", r.Requests, r.Errors, r.Statuses)
		}
	}
	n, nb := float64(row.Requests), float64(bare.Requests)
	b.ReportMetric(row.RPS, "req/s")
	b.ReportMetric(float64(row.P50Ns), "p50-ns")
	b.ReportMetric(float64(row.P99Ns), "p99-ns")
	b.ReportMetric(1e9/row.RPS, "ns/op")
	// Allocations and CPU time of this process (the API server, and the
	// fake Keycloak when a row calls it) per request, during the row's
	// slices; the CPU time of the load generator likewise.
	b.ReportMetric(float64(use[0].mallocs)/n, "allocs/op")
	b.ReportMetric(float64(use[0].bytes)/n, "B/op")
	b.ReportMetric(float64(row.CPUNs)/n, "client-cpu-ns/op")
	b.ReportMetric(row.RPS/bare.RPS, "x-bare-rps")
	if use[0].cpu > 0 && use[1].cpu > 0 {
		b.ReportMetric(float64(use[0].cpu)/n, "server-cpu-ns/op")
		b.ReportMetric((float64(use[0].cpu)/n)/(float64(use[1].cpu)/nb), "x-bare-server-cpu")
	}
	return float64(row.Requests + row.Warmup)
}

// okHandler is the trivial handler every row serves.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok\n"))
})

// bearerMiddleware is the middleware an API writes around a peer that has
// none: Authorization header, "Bearer " prefix, verify (roles included), 401
// otherwise.
func bearerMiddleware(verify verifyFunc, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || verify(r.Context(), tok) != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// httpRow is one end-to-end row: a handler chain built against the fake
// Keycloak.
type httpRow struct {
	name    string
	handler func(b *testing.B, srv *fixture.Server) http.Handler
}

var peerHTTPRows = []httpRow{
	// The same request, Authorization header included, to the handler
	// alone: net/http reads and validates the 1.5 KB header whether or not
	// a middleware looks at it, so a bare row without it would charge
	// that work to the middleware.
	{name: "bare", handler: func(*testing.B, *fixture.Server) http.Handler { return okHandler }},
	// The fastest peer verifier behind the middleware an API would write.
	{name: "keyfunc-jwt-middleware", handler: func(b *testing.B, srv *fixture.Server) http.Handler {
		return bearerMiddleware(newKeyfunc(b, srv, fixture.RS256), okHandler)
	}},
	// The only peer that ships a net/http middleware.
	{name: "auth0-middleware", handler: func(b *testing.B, srv *fixture.Server) http.Handler {
		v := newAuth0Validator(b, srv, fixture.RS256)
		return jwtmiddleware.New(v.ValidateToken).CheckJWT(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if auth0Roles(r.Context().Value(jwtmiddleware.ContextKey{})) != nil {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			okHandler(w, r)
		}))
	}},
}

// BenchmarkHTTP serves a trivial handler on loopback, bare and behind each
// middleware, and loads it from cmd/load in a separate process with the
// fixture's RS256 token on every request, bare row included: the rows
// differ only by the middleware. One run per benchmark (b.N is 1); ns/op
// is 1/(req/s).
func BenchmarkHTTP(b *testing.B) { inRounds(b, benchHTTP) }

func benchHTTP(b *testing.B) {
	s := fixtures(b)
	for _, row := range append(peerHTTPRows, tokenwardenHTTPRows...) {
		b.Run(row.name, func(b *testing.B) {
			kc := newServer(b)
			h := row.handler(b, kc)
			api := httptest.NewServer(h)
			b.Cleanup(api.Close)
			tokens := []string{s.tokens[fixture.RS256].Raw}
			// One request in-process first: the row must accept the token.
			rec := httptest.NewRecorder()
			req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil)
			req.Header.Set("Authorization", "Bearer "+tokens[0])
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("warm-up request: status %d: %s", rec.Code, rec.Body.String())
			}
			jwks, upstream := kc.JWKSHits(), kc.IntrospectHits()
			// The reference: the bare handler on a server of its own,
			// loaded in the slices between this row's.
			bare := httptest.NewServer(okHandler)
			b.Cleanup(bare.Close)
			served := runLoad(b, api.URL+"/", bare.URL+"/", tokens)
			b.ReportMetric(float64(kc.JWKSHits()-jwks)/served, "fetches/op")
			b.ReportMetric(float64(kc.IntrospectHits()-upstream)/served, "upstream/op")
		})
	}
}
