package bench_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tokenwarden/tokenwarden/adapter"
	twoidc "github.com/tokenwarden/tokenwarden/oidc"

	"github.com/tokenwarden/tokenwarden/bench/internal/fixture"
)

// newMiddleware is tokenwarden's adapter in front of okHandler: RFC 6750
// extraction, the verifier (cache as given), the in-memory deny-list, the
// introspection policy, and the same role requirements every peer row
// checks.
func newMiddleware(tb testing.TB, srv *fixture.Server, alg string, cache twoidc.CacheConfig, introspectAlways bool) http.Handler {
	cfg := adapter.Config{
		Verifier: newTokenwardenVerifier(tb, srv, alg, cache),
		Require: []adapter.Requirement{
			adapter.RequireRealmRole("user"),
			adapter.RequireClientRole(fixture.Audience, "reader"),
		},
	}
	if introspectAlways {
		cfg.Introspector = newIntrospectCache(tb, srv.URL)
		cfg.Policy.Always = true
	}
	a, err := adapter.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	return a.Middleware(okHandler)
}

// tokenwardenHTTPRows are the end-to-end rows: verified-token cache on (the
// steady state), off (every request verified, like the peers), and the
// cache on with introspection of every request (answered by the
// introspection cache after the first).
var tokenwardenHTTPRows = []httpRow{
	{name: "tokenwarden-cached", handler: func(b *testing.B, srv *fixture.Server) http.Handler {
		return newMiddleware(b, srv, fixture.RS256, twoidc.CacheConfig{}, false)
	}},
	{name: "tokenwarden-first-seen", handler: func(b *testing.B, srv *fixture.Server) http.Handler {
		return newMiddleware(b, srv, fixture.RS256, twoidc.CacheConfig{Disabled: true}, false)
	}},
	{name: "tokenwarden-introspect", handler: func(b *testing.B, srv *fixture.Server) http.Handler {
		return newMiddleware(b, srv, fixture.RS256, twoidc.CacheConfig{}, true)
	}},
}

// middlewareVariants are in-process rows of BenchmarkVerify: one request
// through the whole middleware (extraction, verification, deny-list,
// requirements, context) to a trivial handler, recorded in memory; the
// introspect row adds introspection of every request, answered by the
// introspection cache after the warm-up.
var middlewareVariants = []variant{
	{name: "tokenwarden-middleware-cached", bench: func(b *testing.B, alg string) {
		benchMiddleware(b, alg, twoidc.CacheConfig{}, false)
	}},
	{name: "tokenwarden-middleware-first-seen", bench: func(b *testing.B, alg string) {
		benchMiddleware(b, alg, twoidc.CacheConfig{Disabled: true}, false)
	}},
	{name: "tokenwarden-middleware-introspect", bench: func(b *testing.B, alg string) {
		benchMiddleware(b, alg, twoidc.CacheConfig{}, true)
	}},
}

func benchMiddleware(b *testing.B, alg string, cache twoidc.CacheConfig, introspectAlways bool) {
	srv := newServer(b)
	h := newMiddleware(b, srv, alg, cache, introspectAlways)
	req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+fixtures(b).tokens[alg].Raw)
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	if w.code != http.StatusOK {
		b.Fatalf("warm-up: status %d", w.code)
	}
	jwks, upstream := srv.JWKSHits(), srv.IntrospectHits()
	b.ReportAllocs()
	for b.Loop() {
		w.code = 0
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
	b.ReportMetric(float64(srv.JWKSHits()-jwks)/float64(b.N), "fetches/op")
	if introspectAlways {
		b.ReportMetric(float64(srv.IntrospectHits()-upstream)/float64(b.N), "upstream/op")
	}
}

// discardWriter is a ResponseWriter that keeps only the status, so the
// rows time the middleware, not a recorder's buffers.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(p), nil
}
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
