package oidc

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
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

// manyMembers renders n JSON members ,"a00a":0 … with names of width+2
// base-36 characters, so that names of equal length share their first and
// last letters (what made the old pairwise duplicate check quadratic).
func manyMembers(n, width int) string {
	var b strings.Builder
	for i := range n {
		name := strconv.FormatInt(int64(i), 36)
		fmt.Fprintf(&b, `,"a%s%sa":0`, strings.Repeat("0", width-len(name)), name)
	}
	return b.String()
}

// forge replaces the signature of tok with one of the same length.
func forge(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	return tok[:i+1] + strings.Repeat("A", len(tok)-i-1)
}

// BenchmarkRejectManyMembers: a forged token whose header (Verifier) or
// payload (MultiVerifier, which reads iss before any signature check) packs
// its bytes as hundreds of tiny members or array elements, against a forged
// signature on a token of the same size with a few members. x-forged-sig is
// the ratio of the two (measured interleaved, target ≤ 2): duplicate names
// are found in linear time, and the values read before a signature check
// are bounded (256 in a header; 1,024 top-level members in a peeked payload,
// whose values are skipped for their structure only).
func BenchmarkRejectManyMembers(b *testing.B) {
	k := keys(b)
	payload := claimsJSON(b, nil)
	type forgery struct {
		name        string
		maxBytes    int
		multi       bool
		many, plain string
	}
	var cases []forgery
	rsHeader := `{"alg":"RS256","typ":"JWT","kid":"` + testKID + `"`
	for _, c := range []struct{ name, extra string }{
		// 677 members or 3,000 elements: the header at its 8 KiB cap.
		{"header-677-members", manyMembers(677, 2)},
		{"header-3000-elements", `,"x":[0` + strings.Repeat(",0", 2999) + `]`},
	} {
		many := forge(sign(b, k, RS256, rsHeader+c.extra+"}", payload))
		cases = append(cases, forgery{c.name, 0, false, many, forge(sameSize(b, k, len(many), rsHeaderBench))})
	}
	for _, c := range []struct {
		name, extra string
		max         int
	}{
		{"multi-1190-members", manyMembers(1190, 2), 0},
		{"multi-5000-elements", `,"x":[0` + strings.Repeat(",0", 4999) + `]`, 0},
		{"multi-4600-members-64KiB", manyMembers(4600, 3), 64 << 10},
		{"multi-22000-elements-64KiB", `,"x":[0` + strings.Repeat(",0", 21999) + `]`, 64 << 10},
	} {
		many := forge(sign(b, k, RS256, rsHeaderBench, strings.TrimSuffix(payload, "}")+c.extra+"}"))
		cases = append(cases, forgery{c.name, c.max, true, many, forge(sameSize(b, k, len(many), rsHeaderBench))})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if d := len(c.many) - len(c.plain); d < -2 || d > 2 {
				b.Fatalf("sizes %d and %d", len(c.many), len(c.plain))
			}
			v := newTestVerifier(b, func(cfg *VerifierConfig) { cfg.MaxTokenBytes = c.maxBytes })
			verify := v.Verify
			if c.multi {
				m, err := NewMultiVerifier(v)
				if err != nil {
					b.Fatal(err)
				}
				verify = m.Verify
			}
			ctx := context.Background()
			var many, plain time.Duration
			b.SetBytes(int64(len(c.many)))
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				_, err1 := verify(ctx, c.many)
				t1 := time.Now()
				_, err2 := verify(ctx, c.plain)
				many, plain = many+t1.Sub(t0), plain+time.Since(t1)
				if err1 == nil || !errors.Is(err2, ErrBadSignature) {
					b.Fatalf("refusals: %v; %v", err1, err2)
				}
			}
			b.ReportMetric(float64(many)/float64(plain), "x-forged-sig")
			b.ReportMetric(float64(many.Nanoseconds())/float64(b.N), "ns-many/op")
			b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N), "ns-plain/op")
		})
	}
}

const rsHeaderBench = `{"alg":"RS256","typ":"JWT","kid":"` + testKID + `"}`

// sameSize signs a token with header hdr whose payload is padded with one
// long claim so that the token is n bytes long, or up to two more (base64url
// grows in steps).
func sameSize(b *testing.B, k *testKeys, n int, hdr string) string {
	b.Helper()
	build := func(pad int) string {
		return sign(b, k, RS256, hdr, claimsJSON(b, map[string]any{"x-pad": strings.Repeat("x", pad)}))
	}
	tok := build(0)
	for pad := max(0, (n-len(tok))*3/4-4); len(tok) < n; pad++ {
		tok = build(pad)
	}
	if len(tok) > n+2 {
		b.Fatalf("cannot pad to %d bytes", n)
	}
	return tok
}

// TestVerifyFirstSeenAllocs: verifying a realistic Keycloak token that is
// not cached allocates at most 20 times, RSA included (crypto/rsa accounts
// for about half).
func TestVerifyFirstSeenAllocs(t *testing.T) {
	tok := accessToken(t, map[string]any{
		"realm_access": map[string]any{"roles": []string{"offline_access", "uma_authorization", "user"}},
		"resource_access": map[string]any{
			"backend": map[string]any{"roles": []string{"reader", "writer"}},
			"account": map[string]any{"roles": []string{"manage-account", "view-profile"}},
			"reports": map[string]any{"roles": []string{"viewer"}},
		},
	})
	if raceEnabled {
		t.Skip("sync.Pool drops objects under the race detector")
	}
	v := newTestVerifier(t, nil) // cache disabled
	ctx := context.Background()
	if n := testing.AllocsPerRun(50, func() {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}); n > 20 {
		t.Fatalf("%v allocations per first-seen verification, want at most 20", n)
	}
}
