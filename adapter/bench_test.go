package adapter_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

const benchIssuer = "https://sso.example.com/realms/acme"

var (
	benchKeyOnce sync.Once
	benchKey     *rsa.PrivateKey
)

func rsaKey(tb testing.TB) *rsa.PrivateKey {
	benchKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		benchKey = k
	})
	return benchKey
}

// signToken makes a Keycloak-shaped RS256 access token.
func signToken(tb testing.TB, k *rsa.PrivateKey, jti string, iat time.Time) string {
	tb.Helper()
	hdr := `{"alg":"RS256","typ":"JWT","kid":"k1"}`
	claims := map[string]any{
		"exp": iat.Add(5 * time.Minute).Unix(), "iat": iat.Unix(), "auth_time": iat.Unix(),
		"jti": jti, "iss": benchIssuer, "aud": []string{"backend", "account"}, "sub": "f1b2c3d4-0000-4000-8000-000000000001",
		"typ": "Bearer", "azp": "mobile", "sid": "s-" + jti, "acr": "1",
		"allowed-origins":    []string{"capacitor://localhost", "https://localhost"},
		"realm_access":       map[string]any{"roles": []string{"user", "offline_access", "uma_authorization", "default-roles-acme"}},
		"resource_access":    map[string]any{"backend": map[string]any{"roles": []string{"reader"}}, "account": map[string]any{"roles": []string{"manage-account", "view-profile"}}},
		"scope":              "openid profile email",
		"email_verified":     true,
		"preferred_username": "alice", "email": "alice@example.com", "name": "Alice Liddell",
	}
	p, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(hdr)) + "." + enc.EncodeToString(p)
	d := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
	if err != nil {
		tb.Fatal(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

func benchVerifier(tb testing.TB, noCache bool) *oidc.Verifier {
	k := rsaKey(tb)
	v, err := oidc.NewVerifier(oidc.VerifierConfig{
		Issuer:   benchIssuer,
		Keys:     oidc.NewStaticKeySet(&oidc.Key{ID: "k1", Algorithm: oidc.RS256, Public: &k.PublicKey}),
		Audience: []string{"backend"},
		Cache:    oidc.CacheConfig{Disabled: noCache},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func benchMiddleware(b *testing.B, noCache bool, denyEntries int) (http.Handler, *http.Request) {
	store := revocation.NewMemory(revocation.Config{MaxEntries: 2 << 20})
	b.Cleanup(func() { store.Close() })
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for i := range denyEntries {
		if err := store.RevokeToken(ctx, benchIssuer, fmt.Sprintf("revoked-%d", i), exp); err != nil {
			b.Fatal(err)
		}
	}
	auth, err := adapter.New(context.Background(), adapter.Config{Verifier: benchVerifier(b, noCache), Store: store,
		Require: []adapter.Requirement{adapter.RequireClientRole("backend", "reader")}})
	if err != nil {
		b.Fatal(err)
	}
	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := adapter.FromContext(r.Context()); !ok {
			b.Fatal("no claims")
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("Authorization", "Bearer "+signToken(b, rsaKey(b), "jti-bench", time.Now().Add(-time.Minute)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r) // warm the cache
	if rec.Code != http.StatusNoContent {
		b.Fatalf("warm-up: %d %s", rec.Code, rec.Body)
	}
	return h, r
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the middleware rather than a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

func BenchmarkBareHandler(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkMiddlewareCachedHit: a token seen before (verified-token cache
// hit), the deny-list check, a client-role guard, the claims in the context.
func BenchmarkMiddlewareCachedHit(b *testing.B) {
	for _, n := range []int{0, 1 << 20} {
		b.Run(fmt.Sprintf("denylist=%d", n), func(b *testing.B) {
			h, r := benchMiddleware(b, false, n)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkMiddlewareFirstSeen: every request pays the full RS256
// verification (the verified-token cache is off).
func BenchmarkMiddlewareFirstSeen(b *testing.B) {
	h, r := benchMiddleware(b, true, 0)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
