package introspect_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/introspect"
)

// benchToken returns a distinct token of Keycloak's typical size (~1.5 KB).
func benchToken(prefix string, i int) string {
	s := fmt.Sprintf("%s-%d.", prefix, i)
	return s + strings.Repeat("x", 1500-len(s))
}

func BenchmarkIntrospectCachedHit(b *testing.B) {
	up := &fakeIntrospector{answer: byToken(time.Now().Add(time.Hour))}
	c, _ := introspect.NewCache(up, introspect.CacheConfig{})
	defer c.Close()
	tok := benchToken("good", 0)
	ctx := context.Background()
	if _, err := c.Introspect(ctx, tok, ""); err != nil {
		b.Fatal(err)
	}
	// Each request brings its own copy of the token: the full comparison
	// on a hit then really compares bytes, as in production.
	req := strings.Clone(tok)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Introspect(ctx, req, ""); err != nil {
			b.Fatal(err)
		}
	}
	if up.calls.Load() != 1 {
		b.Fatalf("%d upstream calls", up.calls.Load())
	}
}

func BenchmarkIntrospectNegativeHit(b *testing.B) {
	up := &fakeIntrospector{answer: byToken(time.Now().Add(time.Hour))}
	c, _ := introspect.NewCache(up, introspect.CacheConfig{})
	defer c.Close()
	tok := benchToken("bad", 0)
	ctx := context.Background()
	c.Introspect(ctx, tok, "")
	req := strings.Clone(tok)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Introspect(ctx, req, ""); err != introspect.ErrInactive {
			b.Fatal(err)
		}
	}
	if up.calls.Load() != 1 {
		b.Fatalf("%d upstream calls", up.calls.Load())
	}
}

// BenchmarkIntrospectCoalesced: per op, 1,000 goroutines ask about the same
// uncached token through a real Client against a fake authorization server
// that answers after 2 ms. upstream/op must be 1.
func BenchmarkIntrospectCoalesced(b *testing.B) {
	f := newFakeAS(b)
	body := activeJSON(func(m map[string]any) { m["exp"] = time.Now().Add(time.Hour).Unix() })
	f.set(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond)
		raw(200, body)(w, r)
	})
	client := newClient(b, f, func(c *introspect.Config) { c.Now = time.Now })
	c, _ := introspect.NewCache(client, introspect.CacheConfig{})
	defer c.Close()
	ctx := context.Background()
	const goroutines = 1000
	var failed atomic.Int64
	i := 0
	for b.Loop() {
		i++
		tok := benchToken("good", i)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				<-start
				if _, err := c.Introspect(ctx, tok, ""); err != nil {
					failed.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
	}
	if failed.Load() != 0 {
		b.Fatalf("%d failed calls", failed.Load())
	}
	b.ReportMetric(float64(f.calls.Load())/float64(i), "upstream/op")
	b.ReportMetric(goroutines, "callers/op")
}

// BenchmarkIntrospectGarbageFlood: per op, 100,000 distinct invalid tokens
// of 1.5 KB each go through a Cache with NegativeSize 10,000. It reports the
// upstream calls (at most one per distinct token), the negative entries kept
// and the heap the cache retains afterwards, which the negative cache's size
// bounds (≈ NegativeSize × token size), however long the flood.
func BenchmarkIntrospectGarbageFlood(b *testing.B) {
	for _, negSize := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("neg=%d", negSize), func(b *testing.B) { garbageFlood(b, negSize) })
	}
}

func garbageFlood(b *testing.B, negSize int) {
	const distinct = 100_000
	up := &fakeIntrospector{answer: byToken(time.Now().Add(time.Hour))}
	ctx := context.Background()
	var retained uint64
	var neg, ops int
	for b.Loop() {
		ops++
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c, _ := introspect.NewCache(up, introspect.CacheConfig{NegativeSize: negSize})
		for i := range distinct {
			c.Introspect(ctx, benchToken("garbage", i), "")
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		retained = after.HeapAlloc - before.HeapAlloc
		_, neg = c.Len()
		runtime.KeepAlive(c)
		c.Close()
	}
	b.ReportMetric(float64(up.calls.Load())/float64(ops), "upstream/op")
	b.ReportMetric(float64(distinct), "distinct/op")
	b.ReportMetric(float64(neg), "neg-entries")
	b.ReportMetric(float64(retained), "retained-bytes")
	b.ReportMetric(float64(retained)/float64(neg), "bytes/entry")
}

// BenchmarkIntrospectMiss is the cache's own cost of a miss: a token not
// seen before, answered active at once by an in-process fake, then stored.
func BenchmarkIntrospectMiss(b *testing.B) {
	up := &fakeIntrospector{answer: byToken(time.Now().Add(time.Hour))}
	c, _ := introspect.NewCache(up, introspect.CacheConfig{})
	defer c.Close()
	toks := make([]string, 4096)
	for i := range toks {
		toks[i] = benchToken("good", i)
	}
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == len(toks) {
			b.StopTimer()
			c.ForgetAll()
			i = 0
			b.StartTimer()
		}
		if _, err := c.Introspect(ctx, toks[i], ""); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
