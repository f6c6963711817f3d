package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
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
	loadConns    = flag.Int("bench.conns", 16, "connections of the load generator")
)

// loadDir holds the load generator built for this process.
var (
	loadDirMu sync.Mutex
	loadDir   string
)

// loadBinary builds cmd/load once per process.
var loadBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tokenwarden-bench-load-")
	if err != nil {
		return "", err
	}
	loadDirMu.Lock()
	loadDir = dir
	loadDirMu.Unlock()
	bin := filepath.Join(dir, "load")
	out, err := exec.Command("go", "build", "-o", bin, "./cmd/load").CombinedOutput()
	if err != nil {
		return "", &buildError{err: err, out: string(out)}
	}
	return bin, nil
})

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string {
	return "bench: building cmd/load: " + e.err.Error() + "\n" + e.out
}

func removeLoadBinary() {
	loadDirMu.Lock()
	defer loadDirMu.Unlock()
	if loadDir != "" {
		_ = os.RemoveAll(loadDir)
	}
}

// loadResult is the JSON line cmd/load prints.
type loadResult struct {
	Requests int64            `json:"requests"`
	Warmup   int64            `json:"warmup_requests"`
	Errors   int64            `json:"errors"`
	Statuses map[string]int64 `json:"statuses"`
	RPS      float64          `json:"rps"`
	P50Ns    int64            `json:"p50_ns"`
	P99Ns    int64            `json:"p99_ns"`
}

// runLoad drives url with cmd/load in a separate process, sending every
// request with the Authorization header of tokens, and reports req/s, p50
// and p99, ns/op as 1/(req/s), and the CPU time of this process (the API
// server) and of the load generator per request. CPU time per request does
// not count the time a process waits for a core, so it moves much less
// with the load of a shared machine than req/s. It returns the number of
// requests served (warm-up included).
func runLoad(b *testing.B, url string, tokens []string) float64 {
	b.Helper()
	bin, err := loadBinary()
	if err != nil {
		b.Fatal(err)
	}
	f := filepath.Join(b.TempDir(), "tokens")
	if err := os.WriteFile(f, []byte(strings.Join(tokens, "\n")), 0o600); err != nil {
		b.Fatal(err)
	}
	args := []string{"-url", url, "-c", strconv.Itoa(*loadConns), "-d", loadDuration.String(), "-token-file", f}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuNanos()
	out, err := cmd.Output()
	cpu := cpuNanos() - cpu0
	runtime.ReadMemStats(&after)
	if err != nil {
		b.Fatalf("load: %v: %s", err, stderr.String())
	}
	var res loadResult
	if err := json.Unmarshal(out, &res); err != nil {
		b.Fatalf("load output %q: %v", out, err)
	}
	if res.Errors > 0 || res.Requests == 0 {
		b.Fatalf("load: %d requests, %d errors %v", res.Requests, res.Errors, res.Statuses)
	}
	b.ReportMetric(res.RPS, "req/s")
	b.ReportMetric(float64(res.P50Ns), "p50-ns")
	b.ReportMetric(float64(res.P99Ns), "p99-ns")
	b.ReportMetric(1e9/res.RPS, "ns/op")
	// Allocations and CPU time of this process (the API server, and the
	// fake Keycloak when a row calls it) per request served, warm-up
	// included; the CPU time of the load generator likewise.
	served := float64(res.Requests + res.Warmup)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/served, "allocs/op")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/served, "B/op")
	if cpu > 0 {
		b.ReportMetric(float64(cpu)/served, "server-cpu-ns/op")
	}
	if st := cmd.ProcessState; st != nil {
		if c := st.UserTime() + st.SystemTime(); c > 0 {
			b.ReportMetric(float64(c.Nanoseconds())/served, "client-cpu-ns/op")
		}
	}
	return served
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
			served := runLoad(b, api.URL+"/", tokens)
			b.ReportMetric(float64(kc.JWKSHits()-jwks)/served, "fetches/op")
			b.ReportMetric(float64(kc.IntrospectHits()-upstream)/served, "upstream/op")
		})
	}
}
