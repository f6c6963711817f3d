package bench_test

import (
	"context"
	"sync"
	"testing"
	"time"

	twoidc "github.com/tokenwarden/tokenwarden/oidc"

	"github.com/tokenwarden/tokenwarden/bench/internal/fixture"
)

// tokenwarden's oidc.Verifier with its own RemoteKeySet against the fake
// certs endpoint (plain http allowed: the fake is on loopback), the same
// checks as the strictest peer plus payload typ, and the roles read through
// the typed claims.
func newTokenwarden(cache twoidc.CacheConfig) func(tb testing.TB, srv *fixture.Server, alg string) verifyFunc {
	return func(tb testing.TB, srv *fixture.Server, alg string) verifyFunc {
		v := newTokenwardenVerifier(tb, srv, alg, cache)
		return func(ctx context.Context, token string) error {
			c, err := v.Verify(ctx, token)
			if err != nil {
				return err
			}
			if !c.HasRealmRole("user") || !c.HasClientRole(fixture.Audience, "reader") {
				return errRoles
			}
			return nil
		}
	}
}

func newTokenwardenVerifier(tb testing.TB, srv *fixture.Server, alg string, cache twoidc.CacheConfig) *twoidc.Verifier {
	tb.Helper()
	ks, err := twoidc.NewRemoteKeySet(twoidc.KeySetConfig{URL: srv.JWKSURL(), InsecureAllowHTTP: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(ks.Close)
	// Wait for the first fetch (Refresh joins it), so that no verification,
	// the warm-up included, waits for the network: instructions.sh counts
	// inside Verify.
	if err := ks.Refresh(context.Background()); err != nil {
		tb.Fatal(err)
	}
	v, err := twoidc.NewVerifier(twoidc.VerifierConfig{
		Issuer:     fixture.Issuer,
		Keys:       ks,
		Audience:   []string{fixture.Audience},
		Algorithms: []string{alg},
		Cache:      cache,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// tokenwardenVerifyLibs are the rows of BenchmarkVerify: the verified-token
// cache off (every call pays the whole verification, like the peers, which
// cache nothing), and on with the same token repeated (the steady state of
// an API: one token serves many requests).
var tokenwardenVerifyLibs = []lib{
	{name: "tokenwarden-first-seen", newVerify: newTokenwarden(twoidc.CacheConfig{Disabled: true})},
	{name: "tokenwarden-cached", newVerify: newTokenwarden(twoidc.CacheConfig{})},
}

// tokenwardenRejectLibs are the rows of BenchmarkReject: the default
// configuration (cache on; refused tokens are never cached).
var tokenwardenRejectLibs = []lib{
	{name: "tokenwarden", newVerify: newTokenwarden(twoidc.CacheConfig{})},
}

// freshPool is the number of distinct tokens the fresh-token row cycles
// through, four times its cache capacity so that every call misses.
const (
	freshPool     = 512
	freshCapacity = 128
)

var freshTokens = sync.OnceValues(func() (map[string][]string, error) {
	s, err := shared()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	now := time.Now()
	for _, alg := range algs {
		for range freshPool {
			t, err := s.keys.Sign(alg, fixture.Claims(now, 6*time.Hour))
			if err != nil {
				return nil, err
			}
			out[alg] = append(out[alg], t.Raw)
		}
	}
	return out, nil
})

// tokenwardenVariants are rows that need more than one token: the cache on,
// and a token it has not seen on every call (each call verifies, stores and
// evicts).
var tokenwardenVariants = []variant{
	{name: "tokenwarden-fresh-token", bench: func(b *testing.B, alg string) {
		pool, err := freshTokens()
		if err != nil {
			b.Fatal(err)
		}
		tokens := pool[alg]
		srv := newServer(b)
		v := newTokenwardenVerifier(b, srv, alg, twoidc.CacheConfig{MaxEntries: freshCapacity})
		ctx := context.Background()
		if _, err := v.Verify(ctx, tokens[0]); err != nil {
			b.Fatal(err)
		}
		before := srv.JWKSHits()
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			c, err := v.Verify(ctx, tokens[i%len(tokens)])
			if err != nil {
				b.Fatal(err)
			}
			if !c.HasRealmRole("user") || !c.HasClientRole(fixture.Audience, "reader") {
				b.Fatal(errRoles)
			}
			i++
		}
		b.ReportMetric(float64(srv.JWKSHits()-before)/float64(b.N), "fetches/op")
	}},
}

type variant struct {
	name  string
	bench func(b *testing.B, alg string)
}
