package oidc

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// benchToken is a realistic Keycloak access token: RS256, realm and client
// roles, about 1.5 KB.
func benchToken(b *testing.B) string {
	b.Helper()
	tok := accessToken(b, map[string]any{
		"realm_access": map[string]any{"roles": []string{"offline_access", "uma_authorization", "user", "admin", "default-roles-tokenwarden", "auditor"}},
		"resource_access": map[string]any{
			"backend": map[string]any{"roles": []string{"reader", "writer", "exporter"}},
			"account": map[string]any{"roles": []string{"manage-account", "manage-account-links", "view-profile"}},
			"reports": map[string]any{"roles": []string{"viewer"}},
		},
		"allowed-origins": []string{"capacitor://localhost", "https://localhost", "http://localhost:8100"},
	})
	if n := len(tok); n < 1400 || n > 1700 {
		b.Fatalf("benchmark token is %d bytes, want about 1.5 KB", n)
	}
	return tok
}

func BenchmarkFloorRSA2048Verify(b *testing.B) {
	tok := benchToken(b)
	i := strings.LastIndexByte(tok, '.')
	digest := sha256.Sum256([]byte(tok[:i]))
	sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
	pub := &keys(b).rsa.PublicKey
	b.ReportAllocs()
	for b.Loop() {
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyFirstSeen(b *testing.B) {
	tok := benchToken(b)
	v := newTestVerifier(b, nil) // cache disabled
	b.ReportAllocs()
	for b.Loop() {
		c, err := v.Verify(context.Background(), tok)
		if err != nil || !c.HasClientRole("backend", "writer") {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	tok := benchToken(b)
	v := newTestVerifier(b, func(c *VerifierConfig) { c.Cache = CacheConfig{} })
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	// The request presents its own copy of the token (as a header value
	// would be), so the hit pays the full byte comparison.
	req := strings.Clone(tok)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRejectForgedSignature: a forged signature on the known kid,
// keys from a RemoteKeySet on a local JWKS server; reports the JWKS fetches
// made during the loop (must be 0).
func BenchmarkRejectForgedSignature(b *testing.B) {
	tok := benchToken(b)
	i := strings.LastIndexByte(tok, '.')
	forged := tok[:i+1] + strings.Repeat("A", len(tok)-i-1)
	srv, hits := verifyJWKSServer(b)
	v, _ := remoteVerifier(b, srv.URL, time.Minute)
	start := hits.Load()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), forged); !errors.Is(err, ErrBadSignature) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(hits.Load()-start), "fetches")
}

// BenchmarkRejectUnknownKid: a kid that the RemoteKeySet has already
// found absent (negative-kid cache); reports the JWKS fetches made during the
// loop (at most the one that filled the negative cache).
func BenchmarkRejectUnknownKid(b *testing.B) {
	tok := sign(b, keys(b), RS256, `{"alg":"RS256","typ":"JWT","kid":"no-such-kid"}`, claimsJSON(b, nil))
	srv, hits := verifyJWKSServer(b)
	v, _ := remoteVerifier(b, srv.URL, time.Minute)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrUnknownKey) {
		b.Fatal(err)
	}
	start := hits.Load()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrUnknownKey) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(hits.Load()-start), "fetches")
}
