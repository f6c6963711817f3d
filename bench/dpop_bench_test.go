package bench_test

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/dpop"
	twoidc "github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"

	"github.com/tokenwarden/tokenwarden/bench/internal/fixture"
)

// BenchmarkFloorECDSAP256Verify is the floor of a DPoP proof's check: one
// ecdsa.Verify on P-256 over a precomputed digest, no parsing (the ES256
// floor of BenchmarkVerify, as a benchmark of its own).
func BenchmarkFloorECDSAP256Verify(b *testing.B) {
	inRounds(b, func(b *testing.B) { b.Run("floor", func(b *testing.B) { benchFloorP256(b) }) })
}

func benchFloorP256(b *testing.B) {
	s := fixtures(b)
	tok := s.tokens[fixture.ES256]
	pub := &s.keys.EC.PublicKey
	r, sig := new(big.Int).SetBytes(tok.Signature[:32]), new(big.Int).SetBytes(tok.Signature[32:])
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.Verify(pub, tok.Digest, r, sig) {
			b.Fatal("ecdsa: signature does not verify")
		}
	}
}

// BenchmarkDPoPVerify is dpop.Verifier.Verify of one ES256 proof (a fresh
// one per call, as every request has) for a GET with an access token and
// its binding: typ, alg, the jwk (parsed, pinned to ES256, point checked),
// the thumbprint against cnf.jkt, the signature, the claims, htm, htu, iat,
// ath, and the jti recorded in a revocation Memory store. "floor" is
// ecdsa.Verify alone, in the same rounds.
func BenchmarkDPoPVerify(b *testing.B) { inRounds(b, benchDPoPVerify) }

func benchDPoPVerify(b *testing.B) {
	b.Run("floor", func(b *testing.B) { benchFloorP256(b) })
	b.Run("tokenwarden", func(b *testing.B) {
		key := dpopKey(b)
		store := revocation.NewMemory(revocation.Config{})
		b.Cleanup(func() { store.Close() })
		v, err := dpop.NewVerifier(dpop.Config{Replay: store})
		if err != nil {
			b.Fatal(err)
		}
		const url = "https://api.example.com/api/orders"
		token := fixtures(b).tokens[fixture.RS256].Raw
		req := httptest.NewRequest(http.MethodGet, url, nil)
		pool := newProofPool(b, key, http.MethodGet, url, token)
		ctx := context.Background()
		jkt := key.Thumbprint()
		b.ReportAllocs()
		for b.Loop() {
			req.Header["Dpop"] = pool.next(b)
			if _, err := v.Verify(ctx, req, token, jkt); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDPoPRequest is one request through the adapter's middleware
// (extraction, the verified-token cache, the deny-list, requirements,
// context) with the RS256 Keycloak fixture token: "tokenwarden-bearer" as
// Bearer, "tokenwarden-dpop" bound to a key (typ DPoP, cnf.jkt) with a
// fresh ES256 proof, recorded in the in-memory store. The target compares
// the DPoP row with the Bearer row plus "floor" (ecdsa.Verify on P-256),
// in the same rounds.
func BenchmarkDPoPRequest(b *testing.B) { inRounds(b, benchDPoPRequest) }

func benchDPoPRequest(b *testing.B) {
	b.Run("floor", func(b *testing.B) { benchFloorP256(b) })
	b.Run("tokenwarden-bearer", func(b *testing.B) {
		srv := newServer(b)
		h := newDPoPMiddleware(b, srv)
		req := httptest.NewRequest(http.MethodGet, "https://api.example.com/api/orders", nil)
		req.Header.Set("Authorization", "Bearer "+fixtures(b).tokens[fixture.RS256].Raw)
		serveLoop(b, h, req, nil)
	})
	b.Run("tokenwarden-dpop", func(b *testing.B) {
		key := dpopKey(b)
		c := fixture.Claims(time.Now(), 6*time.Hour)
		c["typ"] = "DPoP"
		c["cnf"] = map[string]any{"jkt": key.Thumbprint(), "kc-jkt-type": "DPoP"}
		tok, err := fixtures(b).keys.Sign(fixture.RS256, c)
		if err != nil {
			b.Fatal(err)
		}
		srv := newServer(b)
		h := newDPoPMiddleware(b, srv)
		const url = "https://api.example.com/api/orders"
		req := httptest.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "DPoP "+tok.Raw)
		serveLoop(b, h, req, newProofPool(b, key, http.MethodGet, url, tok.Raw))
	})
}

// newDPoPMiddleware is the adapter with the in-memory store (which also
// records the proofs) and the role requirements of the other rows.
func newDPoPMiddleware(b *testing.B, srv *fixture.Server) http.Handler {
	a, err := adapter.New(context.Background(), adapter.Config{
		Verifier: newTokenwardenVerifier(b, srv, fixture.RS256, twoidc.CacheConfig{}),
		Require: []adapter.Requirement{
			adapter.RequireRealmRole("user"),
			adapter.RequireClientRole(fixture.Audience, "reader"),
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.Close() })
	return a.Middleware(okHandler)
}

// serveLoop times h on req, with a fresh proof from pool on every call
// when pool is not nil, after a warm-up that fills the token cache.
func serveLoop(b *testing.B, h http.Handler, req *http.Request, pool *proofPool) {
	w := &discardWriter{h: http.Header{}}
	if pool != nil {
		req.Header["Dpop"] = pool.next(b)
	}
	h.ServeHTTP(w, req)
	if w.code != http.StatusOK {
		b.Fatalf("warm-up: status %d %v", w.code, w.h)
	}
	b.ReportAllocs()
	for b.Loop() {
		if pool != nil {
			req.Header["Dpop"] = pool.next(b)
		}
		w.code = 0
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

func dpopKey(b *testing.B) *dpop.Key {
	k, err := dpop.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// proofPool hands out fresh proofs for one request, signed in batches
// outside the timer: a proof is accepted once, so every call needs its own.
type proofPool struct {
	key                *dpop.Key
	method, url, token string
	proofs             [][]string
	i                  int
}

const proofBatch = 1024

func newProofPool(b *testing.B, key *dpop.Key, method, url, token string) *proofPool {
	p := &proofPool{key: key, method: method, url: url, token: token}
	p.fill(b)
	return p
}

func (p *proofPool) fill(b *testing.B) {
	p.proofs, p.i = p.proofs[:0], 0
	for range proofBatch {
		proof, err := p.key.Proof(p.method, p.url, p.token, "")
		if err != nil {
			b.Fatal(err)
		}
		p.proofs = append(p.proofs, []string{proof})
	}
}

func (p *proofPool) next(b *testing.B) []string {
	if p.i == len(p.proofs) {
		b.StopTimer()
		p.fill(b)
		b.StartTimer()
	}
	p.i++
	return p.proofs[p.i-1]
}
