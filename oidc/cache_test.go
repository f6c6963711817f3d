package oidc

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.ns.Store(t.UnixNano()); return c }
func (c *clock) Now() time.Time   { return time.Unix(0, c.ns.Load()) }
func (c *clock) Set(t time.Time)  { c.ns.Store(t.UnixNano()) }

func cachedVerifier(t testing.TB, clk *clock, cache CacheConfig) (*Verifier, *countingKeys) {
	t.Helper()
	ck := &countingKeys{inner: keys(t).keySet()}
	v := newTestVerifier(t, func(c *VerifierConfig) {
		c.Keys = ck
		c.Now = clk.Now
		c.Cache = cache
	})
	return v, ck
}

func TestCacheHit(t *testing.T) {
	clk := newClock(testNow)
	v, ck := cachedVerifier(t, clk, CacheConfig{})
	tok := accessToken(t, nil)
	c1, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c1 != c2 || ck.calls != 1 {
		t.Fatalf("second call not served from the cache: same=%v lookups=%d", c1 == c2, ck.calls)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("cache hit allocates %.1f times", allocs)
	}
	// A prefix, an extension or a respelling of the cached token is not a hit.
	for _, alt := range append([]string{tok[:len(tok)-1], tok + "A", tok + "."}, respellings(t, tok)[:3]...) {
		if _, err := v.Verify(context.Background(), alt); err == nil {
			t.Fatal("a variant of a cached token was accepted")
		}
	}
}

func TestCacheRechecksTimeOnHit(t *testing.T) {
	clk := newClock(testNow)
	v, ck := cachedVerifier(t, clk, CacheConfig{})
	tok := accessToken(t, map[string]any{"exp": testNow.Unix() + 60, "nbf": testNow.Unix() - 5})
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	// Past exp but inside the leeway: the cache no longer answers, full
	// verification (with leeway) does.
	clk.Set(testNow.Add(70 * time.Second))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if ck.calls != 2 {
		t.Fatalf("lookups = %d, want 2 (cache must not answer after exp)", ck.calls)
	}
	clk.Set(testNow.Add(100 * time.Second))
	_, err := v.Verify(context.Background(), tok)
	wantErr(t, err, ErrExpired, tok)
	if n := v.cache.len(); n != 0 {
		t.Fatalf("%d entries left after expiry", n)
	}
	// A clock that went back before nbf: the entry is not used.
	clk.Set(testNow)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	clk.Set(testNow.Add(-time.Minute))
	_, err = v.Verify(context.Background(), tok)
	wantErr(t, err, ErrNotYetValid, tok)
}

func TestCacheMaxTTL(t *testing.T) {
	clk := newClock(testNow)
	v, ck := cachedVerifier(t, clk, CacheConfig{MaxTTL: 10 * time.Second})
	tok := accessToken(t, nil)
	for _, d := range []time.Duration{0, 5 * time.Second, 11 * time.Second} {
		clk.Set(testNow.Add(d))
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if ck.calls != 2 {
		t.Fatalf("lookups = %d, want 2 (entry must die after MaxTTL)", ck.calls)
	}
}

func TestCacheBounded(t *testing.T) {
	clk := newClock(testNow)
	v, _ := cachedVerifier(t, clk, CacheConfig{MaxEntries: 32})
	for i := range 300 {
		tok := accessToken(t, map[string]any{"jti": fmt.Sprint(i)})
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.cache.len(); n > 32 || n < 16 {
		t.Fatalf("cache holds %d entries, bound 32", n)
	}
}

func TestCacheForget(t *testing.T) {
	clk := newClock(testNow)
	v, ck := cachedVerifier(t, clk, CacheConfig{})
	a := accessToken(t, map[string]any{"sid": "s-a"})
	b := accessToken(t, map[string]any{"sid": "s-b"})
	c := accessToken(t, map[string]any{"sid": "s-c"})
	for _, tok := range []string{a, b, c} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	// A string that is not a, and not a spelling of a's content, forgets
	// nothing: a cut into the payload changes the signing input.
	d := strings.LastIndexByte(a, '.')
	v.Forget(a[:d-1] + a[d:])
	v.Forget(a[:d-1])
	if v.cache.len() != 3 {
		t.Fatal("Forget removed an entry for another content")
	}
	v.Forget(a)
	if v.cache.len() != 2 {
		t.Fatal("Forget(a) did not remove a")
	}
	if n := v.ForgetFunc(func(c *Claims) bool { return c.SessionID == "s-b" }); n != 1 {
		t.Fatalf("ForgetFunc removed %d", n)
	}
	calls := ck.calls
	for _, tok := range []string{a, b, c} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if ck.calls-calls != 2 {
		t.Fatalf("%d re-verifications, want 2 (a and b)", ck.calls-calls)
	}
	v.ForgetAll()
	if n := v.cache.len(); n != 0 {
		t.Fatalf("%d entries after ForgetAll", n)
	}
}

// A hash collision must never return another token's claims.
func TestCacheFullComparison(t *testing.T) {
	c := newTokenCache(16, time.Minute)
	cl := &Claims{Expiry: testNow.Add(time.Minute)}
	c.put("token-a", cl, testNow, 0, 7)
	if c.get("token-a", testNow, 7) != cl {
		t.Fatal("no hit for the stored token")
	}
	if c.get("token-a", testNow, 8) != nil {
		t.Fatal("hit after the key set was reloaded")
	}
	// Forge a collision: the slot of token-a now holds token-b.
	h := hashFor(c, "token-a")
	s := c.shard(h)
	s.m[h].token = "token-b"
	if c.get("token-a", testNow, 7) != nil {
		t.Fatal("hit without full comparison")
	}
	if c.forget("token-a") {
		t.Fatal("forget removed another token's entry")
	}
}

func hashFor(c *tokenCache, tok string) uint64 {
	for i := range c.shards {
		for h, e := range c.shards[i].m {
			if e.token == tok {
				return h
			}
		}
	}
	return 0
}

func TestCacheConcurrent(t *testing.T) {
	clk := newClock(testNow)
	v, _ := cachedVerifier(t, clk, CacheConfig{MaxEntries: 16})
	toks := make([]string, 8)
	for i := range toks {
		toks[i] = accessToken(t, map[string]any{"jti": fmt.Sprint(i)})
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				tok := toks[(i+g)%len(toks)]
				if i%17 == 0 {
					v.Forget(tok)
				}
				if _, err := v.Verify(context.Background(), tok); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestCacheKeysOnVerifiedContent: an ES256 token and its twin spelling
// (r, n−s) both verify. The cache answers only the exact spelling it
// verified, and Forget of either spelling forgets the verified content.
func TestCacheKeysOnVerifiedContent(t *testing.T) {
	clk := newClock(testNow)
	v, ck := cachedVerifier(t, clk, CacheConfig{})
	ctx := context.Background()
	tok := sign(t, keys(t), ES256, `{"alg":"ES256","typ":"JWT","kid":"ec-1"}`, claimsJSON(t, nil))
	twin := ecdsaTwin(t, tok)
	if twin == tok {
		t.Fatal("no twin spelling")
	}
	for _, s := range []string{tok, twin} {
		if _, err := v.Verify(ctx, s); err != nil {
			t.Fatalf("a valid spelling is refused: %v", err)
		}
	}
	if ck.calls != 2 {
		t.Fatalf("%d key lookups, want 2: the twin of a cached token must be verified in full", ck.calls)
	}
	// The twin is cached now; the first spelling is verified again, in full.
	v.Verify(ctx, tok)
	if ck.calls != 3 {
		t.Fatalf("%d key lookups, want 3", ck.calls)
	}
	v.Verify(ctx, tok)
	if ck.calls != 3 {
		t.Fatal("the verified spelling is not answered from the cache")
	}
	// Forgetting the other spelling forgets what tok verified to.
	v.Forget(twin)
	if n := v.cache.len(); n != 0 {
		t.Fatalf("%d entries after forgetting the twin spelling", n)
	}
	v.Verify(ctx, tok)
	if ck.calls != 4 {
		t.Fatalf("%d key lookups after Forget, want 4", ck.calls)
	}
	// A token of other content is not forgotten by it.
	other := sign(t, keys(t), ES256, `{"alg":"ES256","typ":"JWT","kid":"ec-1"}`, claimsJSON(t, map[string]any{"jti": "other"}))
	v.Forget(other)
	if n := v.cache.len(); n != 1 {
		t.Fatalf("%d entries after forgetting another token", n)
	}
}

// ecdsaTwin returns tok with its ES256 signature (r, s) replaced by
// (r, n−s), which verifies as well.
func ecdsaTwin(t testing.TB, tok string) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("not an ES256 signature: %v", err)
	}
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	s.FillBytes(sig[32:])
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}
