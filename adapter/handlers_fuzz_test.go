package adapter

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/oidc"
)

var (
	fuzzVerifierOnce sync.Once
	fuzzVerifier     *oidc.Verifier
)

// realVerifier is an oidc.Verifier with a random key nobody else has: no
// fuzzed input can carry a valid signature.
func realVerifier(tb testing.TB) *oidc.Verifier {
	fuzzVerifierOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			tb.Fatal(err)
		}
		v, err := oidc.NewVerifier(oidc.VerifierConfig{
			Issuer:   "https://kc.example/realms/tw",
			Keys:     oidc.NewStaticKeySet(&oidc.Key{ID: "k1", Algorithm: oidc.RS256, Public: &k.PublicKey}),
			Audience: []string{"backend"},
			Now:      func() time.Time { return t0 },
		})
		if err != nil {
			tb.Fatal(err)
		}
		fuzzVerifier = v
	})
	return fuzzVerifier
}

// FuzzBackchannelLogout feeds arbitrary form bodies to the back-channel
// logout handler: it must answer 400 (never 200, never a panic) and store
// nothing.
func FuzzBackchannelLogout(f *testing.F) {
	f.Add("logout_token=eyJhbGciOiJSUzI1NiIsInR5cCI6ImxvZ291dCtqd3QiLCJraWQiOiJrMSJ9.eyJpc3MiOiJ4In0.c2ln")
	f.Add("logout_token=a&logout_token=b")
	f.Add("logout_token=")
	f.Add("x=%zz")
	f.Add("logout_token=eyJhbGciOiJub25lIn0.eyJzaWQiOiJzIn0.")
	f.Fuzz(func(t *testing.T, body string) {
		s := newFakeStore()
		a, err := New(context.Background(), Config{Verifier: realVerifier(t), Store: s, MaxBodyBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		h := a.BackchannelLogoutHandler()
		r := httptest.NewRequest(http.MethodPost, "/bcl", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d for an unsigned body", rec.Code)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatal("no Cache-Control")
		}
		if s.writes != 0 || len(s.seen) != 0 {
			t.Fatal("store written for an invalid logout token")
		}
	})
}

// FuzzKeycloakAdmin feeds arbitrary bodies to the admin-URL handler.
func FuzzKeycloakAdmin(f *testing.F) {
	f.Add("k_push_not_before", "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJhY3Rpb24iOiJQVVNIX05PVF9CRUZPUkUifQ.c2ln")
	f.Add("k_logout", "eyJhbGciOiJub25lIn0.eyJhY3Rpb24iOiJMT0dPVVQifQ.")
	f.Add("k_test_available", "")
	f.Add("k_logout", "not a jws")
	f.Fuzz(func(t *testing.T, endpoint, body string) {
		s := newFakeStore()
		a, err := New(context.Background(), Config{Verifier: realVerifier(t), Store: s, MaxBodyBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		h := a.KeycloakAdminHandler()
		r := httptest.NewRequest(http.MethodPost, "/kc/x", strings.NewReader(body))
		r.URL.Path = "/kc/" + endpoint
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusBadRequest && rec.Code != http.StatusNotFound {
			t.Fatalf("status %d for an unsigned body", rec.Code)
		}
		if s.writes != 0 || len(s.seen) != 0 {
			t.Fatal("store written for an invalid admin message")
		}
	})
}
