package bench_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v13"

	"github.com/tokenwarden/tokenwarden/introspect"

	"github.com/tokenwarden/tokenwarden/bench/internal/fixture"
)

// introspectFunc asks the fake Keycloak whether token is active and reads
// what the API needs from the answer.
type introspectFunc func(ctx context.Context, token string) error

var errInactive = errors.New("bench: token reported inactive")

// newGocloakIntrospect is gocloak's RetrospectToken as its users call it:
// client id and secret on every call, nothing cached. Its resty transport
// keeps up to 1,024 idle connections so the 1,000-waiter row does not open
// (and leave in TIME_WAIT) a connection per waiter per operation; that
// favours gocloak.
func newGocloakIntrospect(_ testing.TB, base string) introspectFunc {
	g := gocloak.NewClient(base)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 1024
	g.RestyClient().SetTransport(tr)
	return func(ctx context.Context, token string) error {
		res, err := g.RetrospectToken(ctx, token, fixture.ClientID, fixture.ClientSecret, fixture.Realm)
		if err != nil {
			return err
		}
		if res.Active == nil || !*res.Active {
			return errInactive
		}
		return nil
	}
}

// newTokenwardenIntrospect is tokenwarden's introspect.Client behind its
// Cache (default configuration), with the issuer and audience checks on the
// answer and the roles read from the typed claims.
func newTokenwardenIntrospect(tb testing.TB, base string) introspectFunc {
	c := newIntrospectCache(tb, base)
	return func(ctx context.Context, token string) error {
		res, err := c.Introspect(ctx, token, introspect.HintAccessToken)
		if err != nil {
			return err
		}
		if !res.Claims.HasRealmRole("user") || !res.Claims.HasClientRole(fixture.Audience, "reader") {
			return errRoles
		}
		return nil
	}
}

// newBareIntrospect is the least any Go client can do: one POST of the
// same form with the same client authentication through a default
// net/http transport, reading the answer without parsing it. It bounds
// what a client built on net/http can reach.
func newBareIntrospect(_ testing.TB, base string) introspectFunc {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	endpoint := base + fixture.IntrospectPath
	return func(ctx context.Context, token string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint,
			strings.NewReader("token="+token+"&token_type_hint=access_token"))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(fixture.ClientID, fixture.ClientSecret)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
}

func newIntrospectCache(tb testing.TB, base string) *introspect.Cache {
	cl, err := introspect.New(introspect.Config{
		IntrospectionURL: base + fixture.IntrospectPath,
		ClientID:         fixture.ClientID,
		ClientSecret:     fixture.ClientSecret,
		Issuer:           fixture.Issuer,
		Audience:         []string{fixture.Audience},
	})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := introspect.NewCache(cl, introspect.CacheConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

var latencies = []time.Duration{0, 2 * time.Millisecond}

func latencyName(d time.Duration) string { return fmt.Sprintf("%dms", d/time.Millisecond) }

// tokenBatches hands out introspection tokens never seen before, building
// batches of 1,000 outside the timer and keeping the CPU time spent on them
// out of cpu-ns/op.
type tokenBatches struct {
	b        *testing.B
	good     *fixture.Token
	seq      uint64
	batch    []string
	i        int
	excluded int64 // CPU ns spent building batches
}

func newTokenBatches(b *testing.B, good *fixture.Token) *tokenBatches {
	t := &tokenBatches{b: b, good: good}
	t.fill()
	return t
}

func (t *tokenBatches) fill() {
	cpu := cpuNanos()
	t.batch = fixture.Variants(t.good, 1000, t.seq)
	t.seq += uint64(len(t.batch))
	t.i = 0
	t.excluded += cpuNanos() - cpu
}

func (t *tokenBatches) next() string {
	if t.i == len(t.batch) {
		t.b.StopTimer()
		t.fill()
		t.b.StartTimer()
	}
	t.i++
	return t.batch[t.i-1]
}

// BenchmarkIntrospect is one RFC 7662 introspection per op against a fake
// Keycloak answering after 0 or 2 ms. gocloak has no cache: every call is
// an upstream call. tokenwarden-miss asks about a token not seen before,
// tokenwarden-hit repeats one. upstream/op counts requests the fake
// received; cpu-ns/op is the process CPU (client and fake) per op.
func BenchmarkIntrospect(b *testing.B) { inRounds(b, benchIntrospect) }

func benchIntrospect(b *testing.B) {
	good := fixtures(b).tokens[fixture.RS256]
	for _, lat := range latencies {
		rows := []struct {
			name  string
			newFn func(testing.TB, string) introspectFunc
			fresh bool
		}{
			{"gocloak", newGocloakIntrospect, false},
			{"tokenwarden-miss", newTokenwardenIntrospect, true},
			{"tokenwarden-hit", newTokenwardenIntrospect, false},
		}
		for _, row := range rows {
			b.Run(latencyName(lat)+"/"+row.name, func(b *testing.B) {
				srv := newServer(b)
				srv.SetIntrospectLatency(lat)
				f := row.newFn(b, srv.URL)
				ctx := context.Background()
				if err := f(ctx, good.Raw); err != nil {
					b.Fatalf("warm-up: %v", err)
				}
				tokens := newTokenBatches(b, good)
				hits, cpu := srv.IntrospectHits(), cpuNanos()-tokens.excluded
				b.ReportAllocs()
				for b.Loop() {
					tok := good.Raw
					if row.fresh {
						tok = tokens.next()
					}
					if err := f(ctx, tok); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(srv.IntrospectHits()-hits)/float64(b.N), "upstream/op")
				b.ReportMetric(float64(cpuNanos()-tokens.excluded-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// waiters is the number of goroutines asking about one token at once.
const waiters = 1000

// BenchmarkIntrospectWaiters: one op is 1,000 goroutines introspecting the
// same token, not seen before, at the same moment.
func BenchmarkIntrospectWaiters(b *testing.B) { inRounds(b, benchIntrospectWaiters) }

func benchIntrospectWaiters(b *testing.B) {
	good := fixtures(b).tokens[fixture.RS256]
	for _, lat := range latencies {
		rows := []struct {
			name  string
			newFn func(testing.TB, string) introspectFunc
		}{
			{"gocloak", newGocloakIntrospect},
			{"tokenwarden", newTokenwardenIntrospect},
		}
		for _, row := range rows {
			b.Run(latencyName(lat)+"/"+row.name, func(b *testing.B) {
				srv := newServer(b)
				srv.SetIntrospectLatency(lat)
				f := row.newFn(b, srv.URL)
				ctx := context.Background()
				if err := f(ctx, good.Raw); err != nil {
					b.Fatalf("warm-up: %v", err)
				}
				tokens := newTokenBatches(b, good)
				var failed atomic.Int64
				hits, cpu := srv.IntrospectHits(), cpuNanos()-tokens.excluded
				b.ReportAllocs()
				for b.Loop() {
					tok := tokens.next()
					start := make(chan struct{})
					var wg sync.WaitGroup
					for range waiters {
						wg.Go(func() {
							<-start
							if f(ctx, tok) != nil {
								failed.Add(1)
							}
						})
					}
					close(start)
					wg.Wait()
				}
				if n := failed.Load(); n > 0 {
					b.Fatalf("%d introspections failed", n)
				}
				b.ReportMetric(float64(srv.IntrospectHits()-hits)/float64(b.N), "upstream/op")
				b.ReportMetric(float64(cpuNanos()-tokens.excluded-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// serveBinary builds cmd/serve once per process.
var serveBinary = sync.OnceValues(func() (string, error) { return buildTool("serve") })

// childKeycloak is the fake Keycloak running in a child process (cmd/serve
// -row keycloak), so that the CPU time and allocations of the benchmark
// process are the client's alone.
type childKeycloak struct {
	URL string
}

// newChildKeycloak starts the child for the benchmark's lifetime.
func newChildKeycloak(b *testing.B) *childKeycloak {
	b.Helper()
	bin, err := serveBinary()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-row", "keycloak")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close() // serve exits when its standard input ends
		_ = cmd.Wait()
	})
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("serve -row keycloak: %v", err)
	}
	return &childKeycloak{URL: strings.TrimSpace(url)}
}

// introspections is the number of introspection requests the child has
// answered so far.
func (c *childKeycloak) introspections(b *testing.B) int64 {
	b.Helper()
	resp, err := http.Get(c.URL + fixture.StatsPath)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var st fixture.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		b.Fatal(err)
	}
	return st.Introspect
}

// BenchmarkIntrospectClient is BenchmarkIntrospect's miss against gocloak
// with the fake Keycloak in a child process: client-cpu-ns/op and
// allocs/op are the client's own cost of one introspection (request,
// client authentication, reading and checking the answer, and for
// tokenwarden the cache's bookkeeping of a miss), with nothing of the
// server's in them. The interleaved row alternates one call of each client
// and measures the CPU time around each call: a burst of load on the shared
// machine then falls on both, and x-gocloak-cpu, the ratio of the two
// sums, is steadier than the ratio of two rows measured one after the other.
func BenchmarkIntrospectClient(b *testing.B) { inRounds(b, benchIntrospectClient) }

func benchIntrospectClient(b *testing.B) {
	good := fixtures(b).tokens[fixture.RS256]
	rows := []struct {
		name  string
		newFn func(testing.TB, string) introspectFunc
	}{
		{"gocloak", newGocloakIntrospect},
		{"tokenwarden-miss", newTokenwardenIntrospect},
	}
	for _, row := range rows {
		b.Run("0ms/"+row.name, func(b *testing.B) {
			kc := newChildKeycloak(b)
			f := row.newFn(b, kc.URL)
			ctx := context.Background()
			if err := f(ctx, good.Raw); err != nil {
				b.Fatalf("warm-up: %v", err)
			}
			tokens := newTokenBatches(b, good)
			hits, cpu := kc.introspections(b), cpuNanos()-tokens.excluded
			b.ReportAllocs()
			for b.Loop() {
				if err := f(ctx, tokens.next()); err != nil {
					b.Fatal(err)
				}
			}
			used := cpuNanos() - tokens.excluded - cpu
			b.StopTimer()
			b.ReportMetric(float64(kc.introspections(b)-hits)/float64(b.N), "upstream/op")
			b.ReportMetric(float64(used)/float64(b.N), "client-cpu-ns/op")
		})
	}
	b.Run("0ms/tokenwarden-vs-gocloak", func(b *testing.B) {
		kc := newChildKeycloak(b)
		tw, gc, bare := newTokenwardenIntrospect(b, kc.URL), newGocloakIntrospect(b, kc.URL), newBareIntrospect(b, kc.URL)
		ctx := context.Background()
		for _, f := range []introspectFunc{tw, gc, bare} {
			if err := f(ctx, good.Raw); err != nil {
				b.Fatalf("warm-up: %v", err)
			}
		}
		tokens := newTokenBatches(b, good)
		var twCPU, gcCPU, bareCPU int64
		for b.Loop() {
			tok := tokens.next()
			t0 := cpuNanos()
			if err := tw(ctx, tok); err != nil {
				b.Fatal(err)
			}
			t1 := cpuNanos()
			if err := gc(ctx, tok); err != nil {
				b.Fatal(err)
			}
			t2 := cpuNanos()
			if err := bare(ctx, tok); err != nil {
				b.Fatal(err)
			}
			twCPU, gcCPU, bareCPU = twCPU+t1-t0, gcCPU+t2-t1, bareCPU+cpuNanos()-t2
		}
		b.ReportMetric(float64(twCPU)/float64(b.N), "client-cpu-ns/op")
		b.ReportMetric(float64(gcCPU)/float64(b.N), "gocloak-client-cpu-ns/op")
		b.ReportMetric(float64(twCPU)/float64(gcCPU), "x-gocloak-cpu")
		b.ReportMetric(float64(bareCPU)/float64(gcCPU), "bare-x-gocloak-cpu")
	})
}
