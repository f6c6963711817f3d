package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// verifyJWKSServer serves the RS256 test key as a JWKS and counts requests.
func verifyJWKSServer(t testing.TB) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	k := keys(t)
	doc, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "kid": testKID, "alg": RS256, "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(k.rsa.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.rsa.E)).Bytes()),
	}}})
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func remoteVerifier(t testing.TB, url string, cooldown time.Duration) (*Verifier, *RemoteKeySet) {
	t.Helper()
	ks, err := NewRemoteKeySet(KeySetConfig{URL: url, InsecureAllowHTTP: true, UnknownKidCooldown: cooldown})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	if err := ks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return newTestVerifier(t, func(c *VerifierConfig) { c.Keys = ks }), ks
}

// End to end through a RemoteKeySet: 1,000 forged signatures on the known
// kid cause no JWKS fetch, and 10,000 tokens with random kids cause at most
// one fetch within the cooldown.
func TestRemoteKeysForgedAndRandomKids(t *testing.T) {
	srv, hits := verifyJWKSServer(t)
	v, ks := remoteVerifier(t, srv.URL, time.Hour)
	ctx := context.Background()
	valid := accessToken(t, nil)
	if _, err := v.Verify(ctx, valid); err != nil {
		t.Fatal(err)
	}
	base := hits.Load()
	parts := strings.Split(valid, ".")
	for i := range 1000 {
		sig := make([]byte, 256)
		sig[0], sig[1] = byte(i), byte(i>>8)
		forged := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
		if _, err := v.Verify(ctx, forged); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("forged %d: %v", i, err)
		}
	}
	if got := hits.Load() - base; got != 0 {
		t.Fatalf("%d JWKS fetches for forged signatures on a known kid, want 0", got)
	}
	payload := claimsJSON(t, nil)
	for i := range 10000 {
		// The signature is irrelevant: the kid is unknown.
		tok := enc64(fmt.Sprintf(`{"alg":"RS256","kid":"random-%d"}`, i)) + "." + enc64(payload) + "." + parts[2]
		if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("random kid %d: %v", i, err)
		}
	}
	if got := hits.Load() - base; got > 1 {
		t.Fatalf("%d JWKS fetches for 10,000 random kids within one cooldown, want at most 1", got)
	}
	if _, err := v.Verify(ctx, valid); err != nil {
		t.Fatalf("valid token after the flood: %v", err)
	}
	_ = ks
}
