package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	twoidc "github.com/tokenwarden/tokenwarden/oidc"

	"github.com/tokenwarden/tokenwarden/bench/internal/fixture"
)

// TestMiddleware proves that the profiled chain is a real one: it accepts
// the fixture token and refuses a forged signature and a missing token.
func TestMiddleware(t *testing.T) {
	keys, err := fixture.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := keys.Sign(fixture.RS256, fixture.Claims(time.Now(), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	kc := fixture.NewServer(keys)
	defer kc.Close()
	ks, err := twoidc.NewRemoteKeySet(twoidc.KeySetConfig{URL: kc.JWKSURL(), InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	a, err := newMiddleware(ks)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	h := a.Middleware(okHandler)
	tests := []struct {
		name   string
		header string
		want   int
	}{
		{"valid", "Bearer " + tok.Raw, http.StatusOK},
		{"forged", "Bearer " + fixture.Forged(tok), http.StatusUnauthorized},
		{"none", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d", rec.Code, tt.want)
			}
		})
	}
}
