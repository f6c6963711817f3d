package introspect_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// fakeIntrospector answers from a function and counts calls.
type fakeIntrospector struct {
	calls  atomic.Int64
	answer func(ctx context.Context, token, hint string) (*introspect.Result, error)
}

func (f *fakeIntrospector) Introspect(ctx context.Context, token, hint string) (*introspect.Result, error) {
	f.calls.Add(1)
	return f.answer(ctx, token, hint)
}

func activeResult(exp time.Time) *introspect.Result {
	return &introspect.Result{Claims: &oidc.Claims{Issuer: testIssuer, Subject: "u", Expiry: exp}}
}

// byToken answers active for tokens starting with "good", inactive otherwise.
func byToken(exp time.Time) func(context.Context, string, string) (*introspect.Result, error) {
	return func(_ context.Context, token, _ string) (*introspect.Result, error) {
		if len(token) >= 4 && token[:4] == "good" {
			return activeResult(exp), nil
		}
		return nil, introspect.ErrInactive
	}
}

type events struct {
	mu sync.Mutex
	n  map[introspect.EventKind]int
}

func (e *events) add(ev introspect.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == nil {
		e.n = map[introspect.EventKind]int{}
	}
	if ev.Endpoint != "" || ev.Status != 0 || ev.Err != nil {
		panic("a cache event with upstream fields")
	}
	e.n[ev.Kind]++
}

func (e *events) get(ev introspect.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n[ev]
}

func newCache(t testing.TB, next introspect.Introspector, clk *clock, mod func(*introspect.CacheConfig)) *introspect.Cache {
	t.Helper()
	cfg := introspect.CacheConfig{Now: clk.Now}
	if mod != nil {
		mod(&cfg)
	}
	c, err := introspect.NewCache(next, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestCacheTTL checks the expiry boundaries of positive and negative entries.
func TestCacheTTL(t *testing.T) {
	tests := []struct {
		name     string
		token    string
		exp      time.Duration // token life left at the first call
		cfg      func(*introspect.CacheConfig)
		lastHit  time.Duration // still served from the cache at this offset
		firstOut time.Duration // goes upstream again at this offset
	}{
		{"half the remaining life", "good1", 100 * time.Second, nil, 50*time.Second - time.Nanosecond, 50 * time.Second},
		{"MaxPositiveTTL", "good2", time.Hour, func(c *introspect.CacheConfig) { c.MaxPositiveTTL = 10 * time.Second },
			10*time.Second - time.Nanosecond, 10 * time.Second},
		{"default max 5 min", "good3", time.Hour, nil, 5*time.Minute - time.Nanosecond, 5 * time.Minute},
		{"full life never outlives exp", "good4", 100 * time.Second, func(c *introspect.CacheConfig) { c.LifetimeFraction = 1 },
			100*time.Second - time.Nanosecond, 100 * time.Second},
		{"negative TTL default 1 min", "bad1", time.Hour, nil, time.Minute - time.Nanosecond, time.Minute},
		{"negative TTL configured", "bad2", time.Hour, func(c *introspect.CacheConfig) { c.NegativeTTL = 5 * time.Second },
			5*time.Second - time.Nanosecond, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			up := &fakeIntrospector{answer: byToken(testNow.Add(tt.exp))}
			var ev events
			c := newCache(t, up, clk, func(cfg *introspect.CacheConfig) {
				cfg.Observe = ev.add
				if tt.cfg != nil {
					tt.cfg(cfg)
				}
			})
			ctx := context.Background()
			first, firstErr := c.Introspect(ctx, tt.token, "")
			clk.Set(testNow.Add(tt.lastHit))
			res, err := c.Introspect(ctx, tt.token, "")
			if res != first || err != firstErr {
				t.Fatalf("cached answer differs: %v %v vs %v %v", res, err, first, firstErr)
			}
			if n := up.calls.Load(); n != 1 {
				t.Fatalf("%d upstream calls before expiry, want 1", n)
			}
			clk.Set(testNow.Add(tt.firstOut))
			c.Introspect(ctx, tt.token, "")
			if n := up.calls.Load(); n != 2 {
				t.Fatalf("%d upstream calls after expiry, want 2", n)
			}
			hits := ev.get(introspect.CacheHit) + ev.get(introspect.CacheNegativeHit)
			if hits != 1 || ev.get(introspect.CacheMiss) != 2 {
				t.Errorf("events %v", ev.n)
			}
		})
	}
}

func TestCacheNeverCachesFailures(t *testing.T) {
	for _, failure := range []error{
		introspect.ErrUnavailable,
		fmt.Errorf("%w: bad json", introspect.ErrInvalidResponse),
		&introspect.Error{Endpoint: introspect.EndpointIntrospection, Status: 401, Code: "unauthorized_client"},
		&introspect.Error{Endpoint: introspect.EndpointIntrospection, Status: 400, Code: "invalid_request"},
		context.DeadlineExceeded,
		errors.New("something else"),
	} {
		t.Run(failure.Error(), func(t *testing.T) {
			up := &fakeIntrospector{answer: func(context.Context, string, string) (*introspect.Result, error) { return nil, failure }}
			c := newCache(t, up, newClock(), nil)
			for range 3 {
				if _, err := c.Introspect(context.Background(), "tok", ""); !errors.Is(err, failure) {
					t.Fatalf("got %v, want %v", err, failure)
				}
			}
			if n := up.calls.Load(); n != 3 {
				t.Fatalf("%d upstream calls, want 3 (failures are not cached)", n)
			}
		})
	}
}

func TestCacheKeysOnTokenAndHint(t *testing.T) {
	clk := newClock()
	up := &fakeIntrospector{answer: byToken(testNow.Add(time.Hour))}
	c := newCache(t, up, clk, nil)
	ctx := context.Background()
	for _, q := range []struct{ token, hint string }{
		{"good-a", ""}, {"good-a", ""}, {"good-a", introspect.HintAccessToken}, {"good-b", ""}, {"good-a", ""},
		{"bad-a", ""}, {"bad-a", ""}, {"bad-a", introspect.HintRefreshToken},
	} {
		c.Introspect(ctx, q.token, q.hint)
	}
	// good-a "", good-a access_token, good-b, good-a "" again (replaced by
	// the hint entry), bad-a "", bad-a refresh_token.
	if n := up.calls.Load(); n != 6 {
		t.Fatalf("%d upstream calls, want 6", n)
	}
}

func TestCacheForget(t *testing.T) {
	clk := newClock()
	up := &fakeIntrospector{answer: byToken(testNow.Add(time.Hour))}
	c := newCache(t, up, clk, nil)
	ctx := context.Background()
	for _, tok := range []string{"good", "bad"} {
		c.Introspect(ctx, tok, "")
		c.Introspect(ctx, tok, "")
		c.Forget(tok)
		c.Forget("unrelated")
		c.Introspect(ctx, tok, "")
	}
	if n := up.calls.Load(); n != 4 {
		t.Fatalf("%d upstream calls, want 4", n)
	}
	if p, n := c.Len(); p != 1 || n != 1 {
		t.Fatalf("Len = %d, %d", p, n)
	}
	c.ForgetAll()
	if p, n := c.Len(); p != 0 || n != 0 {
		t.Fatalf("Len after ForgetAll = %d, %d", p, n)
	}
}

// TestCacheForgetDuringFlight: an answer computed before a revocation must
// not be stored after Forget.
func TestCacheForgetDuringFlight(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	up := &fakeIntrospector{answer: func(_ context.Context, token, _ string) (*introspect.Result, error) {
		if token == "good-slow" && started != nil {
			close(started)
			started = nil
			<-release
		}
		return activeResult(testNow.Add(time.Hour)), nil
	}}
	c := newCache(t, up, newClock(), nil)
	done := make(chan error)
	wait := started
	go func() { _, err := c.Introspect(context.Background(), "good-slow", ""); done <- err }()
	<-wait
	c.Forget("good-slow")
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.Introspect(context.Background(), "good-slow", "")
	if n := up.calls.Load(); n != 2 {
		t.Fatalf("%d upstream calls, want 2: the in-flight answer was cached after Forget", n)
	}
}

// TestCacheCoalesces: 1,000 concurrent identical misses → 1 upstream call.
func TestCacheCoalesces(t *testing.T) {
	release := make(chan struct{})
	up := &fakeIntrospector{answer: func(context.Context, string, string) (*introspect.Result, error) {
		<-release
		return activeResult(testNow.Add(time.Hour)), nil
	}}
	var ev events
	c := newCache(t, up, newClock(), func(cfg *introspect.CacheConfig) { cfg.Observe = ev.add })
	const n = 1000
	var wg sync.WaitGroup
	results := make([]*introspect.Result, n)
	errs := make([]error, n)
	var waiting sync.WaitGroup
	waiting.Add(n)
	for i := range n {
		wg.Go(func() {
			waiting.Done()
			results[i], errs[i] = c.Introspect(context.Background(), "good-shared", "")
		})
	}
	waiting.Wait()
	for ev.get(introspect.CacheMiss) < n { // every goroutine has joined the flight
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if calls := up.calls.Load(); calls != 1 {
		t.Fatalf("%d upstream calls, want 1", calls)
	}
	for i := range n {
		if errs[i] != nil || results[i] != results[0] {
			t.Fatalf("caller %d: %v %v", i, results[i], errs[i])
		}
	}
	// A goroutine descheduled between its miss and joining the flight may
	// start a second flight after the first ended; that flight answers
	// from the cache (the upstream count above stays 1) and is not counted
	// as coalesced.
	if got := ev.get(introspect.CacheCoalesced); got < n/2 || got > n-1 {
		t.Errorf("coalesced events = %d, want about %d", got, n-1)
	}
}

// TestCacheWaiterContext: every caller whose context ends returns at once.
// The shared call runs on the context of the caller that started it: when
// that caller leaves, the call ends, and a caller still waiting starts
// another on its own context, whose answer is cached.
func TestCacheWaiterContext(t *testing.T) {
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	var sawCancel atomic.Int64
	up := &fakeIntrospector{answer: func(ctx context.Context, _, _ string) (*introspect.Result, error) {
		started <- struct{}{}
		select {
		case <-ctx.Done():
			sawCancel.Add(1)
			return nil, fmt.Errorf("%w: %w", introspect.ErrUnavailable, ctx.Err())
		case <-release:
			return activeResult(testNow.Add(time.Hour)), nil
		}
	}}
	var ev events
	c := newCache(t, up, newClock(), func(cfg *introspect.CacheConfig) { cfg.Observe = ev.add })

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderErr := make(chan error)
	go func() { _, err := c.Introspect(leaderCtx, "good-x", ""); leaderErr <- err }()
	<-started
	otherDone := make(chan error)
	go func() { _, err := c.Introspect(context.Background(), "good-x", ""); otherDone <- err }()
	for ev.get(introspect.CacheMiss) < 2 {
		time.Sleep(time.Millisecond)
	}
	impatient, cancelImpatient := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelImpatient()
	if _, err := c.Introspect(impatient, "good-x", ""); !errors.Is(err, context.DeadlineExceeded) ||
		!errors.Is(err, introspect.ErrUnavailable) {
		t.Fatalf("impatient waiter: %v", err)
	}
	cancelLeader()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) || !errors.Is(err, introspect.ErrUnavailable) {
		t.Fatalf("leader: %v", err)
	}
	if n := sawCancel.Load(); n != 1 {
		t.Fatalf("the leader's call saw %d cancellations, want 1", n)
	}
	<-started // the waiter's own call
	close(release)
	if err := <-otherDone; err != nil {
		t.Fatalf("other waiter: %v", err)
	}
	if _, err := c.Introspect(context.Background(), "good-x", ""); err != nil || up.calls.Load() != 2 {
		t.Fatalf("after: %v, %d calls, want 2", err, up.calls.Load())
	}
	if n := ev.get(introspect.CacheHit); n != 1 {
		t.Fatalf("the waiter's answer was not cached: %d hits", n)
	}
}

func TestCacheTimeoutAndClose(t *testing.T) {
	up := &fakeIntrospector{answer: func(ctx context.Context, _, _ string) (*introspect.Result, error) {
		<-ctx.Done()
		return nil, fmt.Errorf("%w: %v", introspect.ErrUnavailable, ctx.Err())
	}}
	c := newCache(t, up, newClock(), func(cfg *introspect.CacheConfig) { cfg.Timeout = 20 * time.Millisecond })
	if _, err := c.Introspect(context.Background(), "t1", ""); !errors.Is(err, introspect.ErrUnavailable) {
		t.Fatalf("got %v", err)
	}
	c2 := newCache(t, up, newClock(), nil)
	done := make(chan error)
	go func() { _, err := c2.Introspect(context.Background(), "t2", ""); done <- err }()
	for up.calls.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	c2.Close()
	c2.Close()
	if err := <-done; !errors.Is(err, introspect.ErrUnavailable) {
		t.Fatalf("in flight at Close: %v", err)
	}
	if _, err := c2.Introspect(context.Background(), "t3", ""); !errors.Is(err, introspect.ErrUnavailable) {
		t.Fatalf("after Close: %v", err)
	}
}

// TestCacheGarbageFlood: distinct garbage tokens evict only negative entries.
func TestCacheGarbageFlood(t *testing.T) {
	up := &fakeIntrospector{answer: byToken(testNow.Add(time.Hour))}
	c := newCache(t, up, newClock(), func(cfg *introspect.CacheConfig) { cfg.NegativeSize = 100; cfg.PositiveSize = 10 })
	ctx := context.Background()
	for i := range 5 {
		c.Introspect(ctx, fmt.Sprintf("good-%d", i), "")
	}
	const flood = 10000
	for i := range flood {
		if _, err := c.Introspect(ctx, fmt.Sprintf("garbage-%d", i), ""); !errors.Is(err, introspect.ErrInactive) {
			t.Fatal(err)
		}
	}
	if p, n := c.Len(); p != 5 || n != 100 {
		t.Fatalf("Len = %d positive, %d negative; want 5, 100", p, n)
	}
	before := up.calls.Load()
	for i := range 5 {
		if _, err := c.Introspect(ctx, fmt.Sprintf("good-%d", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	if up.calls.Load() != before {
		t.Fatal("positive entries were evicted by the flood")
	}
	if before != 5+flood {
		t.Fatalf("%d upstream calls, want %d", before, 5+flood)
	}
}

func TestCacheOversizedTokensPassThrough(t *testing.T) {
	up := &fakeIntrospector{answer: byToken(testNow.Add(time.Hour))}
	c := newCache(t, up, newClock(), func(cfg *introspect.CacheConfig) { cfg.MaxTokenBytes = 8 })
	for range 2 {
		c.Introspect(context.Background(), "bad-but-long", "")
	}
	if p, n := c.Len(); up.calls.Load() != 2 || p+n != 0 {
		t.Fatalf("calls %d, cached %d", up.calls.Load(), p+n)
	}
}

func TestNewCacheConfig(t *testing.T) {
	up := &fakeIntrospector{}
	for _, f := range []float64{-0.1, 1.5} {
		if _, err := introspect.NewCache(up, introspect.CacheConfig{LifetimeFraction: f}); !errors.Is(err, introspect.ErrConfig) {
			t.Errorf("LifetimeFraction %v: %v", f, err)
		}
	}
	if _, err := introspect.NewCache(nil, introspect.CacheConfig{}); !errors.Is(err, introspect.ErrConfig) {
		t.Errorf("nil next: %v", err)
	}
}

// TestCacheHitsDoNotAllocate keeps the hot path allocation-free (speed is
// shown by BenchmarkIntrospectCachedHit).
func TestCacheHitsDoNotAllocate(t *testing.T) {
	up := &fakeIntrospector{answer: byToken(time.Now().Add(time.Hour))}
	c := newCache(t, up, &clock{t: time.Now()}, func(cfg *introspect.CacheConfig) {
		cfg.Now = nil // time.Now, as in production
		cfg.Observe = func(introspect.Event) {}
	})
	ctx := context.Background()
	for _, tok := range []string{"good-token", "bad-token"} {
		c.Introspect(ctx, tok, "")
		if n := testing.AllocsPerRun(100, func() { c.Introspect(ctx, tok, "") }); n != 0 {
			t.Errorf("%s: %v allocations per hit", tok, n)
		}
	}
	if up.calls.Load() != 2 {
		t.Fatalf("%d upstream calls", up.calls.Load())
	}
}
