package bench_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
func newGocloakIntrospect(_ testing.TB, srv *fixture.Server) introspectFunc {
	g := gocloak.NewClient(srv.URL)
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
func newTokenwardenIntrospect(tb testing.TB, srv *fixture.Server) introspectFunc {
	c := newIntrospectCache(tb, srv)
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

func newIntrospectCache(tb testing.TB, srv *fixture.Server) *introspect.Cache {
	cl, err := introspect.New(introspect.Config{
		IntrospectionURL: srv.IntrospectURL(),
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
			newFn func(testing.TB, *fixture.Server) introspectFunc
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
				f := row.newFn(b, srv)
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
			newFn func(testing.TB, *fixture.Server) introspectFunc
		}{
			{"gocloak", newGocloakIntrospect},
			{"tokenwarden", newTokenwardenIntrospect},
		}
		for _, row := range rows {
			b.Run(latencyName(lat)+"/"+row.name, func(b *testing.B) {
				srv := newServer(b)
				srv.SetIntrospectLatency(lat)
				f := row.newFn(b, srv)
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
