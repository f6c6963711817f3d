package bench_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"flag"
	"math/big"
	"testing"
	"time"

	twoidc "github.com/tokenwarden/tokenwarden/oidc"

	"github.com/tokenwarden/tokenwarden/bench/internal/fixture"
	"github.com/tokenwarden/tokenwarden/bench/report"
)

// BenchmarkVerify is one valid Keycloak-shaped access token (RS256 with
// RSA-2048, and ES256) through every library, with roles read, after one
// warm-up call that loads the keys. "floor" is the bare signature check on
// a precomputed digest: no parsing, no JSON, no claims.
func BenchmarkVerify(b *testing.B) { inRounds(b, benchVerify) }

func benchVerify(b *testing.B) {
	s := fixtures(b)
	for _, alg := range algs {
		b.Run(alg+"/floor", func(b *testing.B) { benchFloor(b, s, alg) })
		for _, l := range verifyLibs() {
			b.Run(alg+"/"+l.name, func(b *testing.B) {
				srv := newServer(b)
				verify := l.newVerify(b, srv, alg)
				benchAccept(b, srv, verify, s.tokens[alg].Raw)
			})
		}
		for _, v := range append(tokenwardenVariants, middlewareVariants...) {
			b.Run(alg+"/"+v.name, func(b *testing.B) { v.bench(b, alg) })
		}
	}
}

func benchFloor(b *testing.B, s *set, alg string) {
	floor := floorOf(b, s, alg)
	b.ReportAllocs()
	for b.Loop() {
		floor()
	}
}

// floorOf returns the bare signature check of the fixture token of alg,
// failing b if it does not verify.
func floorOf(b *testing.B, s *set, alg string) func() {
	tok := s.tokens[alg]
	switch alg {
	case fixture.RS256:
		pub := &s.keys.RSA.PublicKey
		return func() {
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, tok.Digest, tok.Signature); err != nil {
				b.Fatal(err)
			}
		}
	case fixture.ES256:
		pub := &s.keys.EC.PublicKey
		r, sig := new(big.Int).SetBytes(tok.Signature[:32]), new(big.Int).SetBytes(tok.Signature[32:])
		return func() {
			if !ecdsa.Verify(pub, tok.Digest, r, sig) {
				b.Fatal("ecdsa: signature does not verify")
			}
		}
	}
	b.Fatalf("no floor for %s", alg)
	return nil
}

// BenchmarkVerifyPaired is the first-seen row of BenchmarkVerify with the
// floor, call by call: every iteration runs one floor check and one
// tokenwarden verification (the cache off), in alternating order, and times
// each with the monotonic clock. A burst of load on the shared machine then
// falls on both alike, so x-floor (tokenwarden's time ÷ the floor's in the
// same iterations) moves much less between runs than the ratio of two rows
// measured a second apart.
func BenchmarkVerifyPaired(b *testing.B) { inRounds(b, benchVerifyPaired) }

func benchVerifyPaired(b *testing.B) {
	s := fixtures(b)
	for _, alg := range algs {
		b.Run(alg+"/tokenwarden-first-seen", func(b *testing.B) {
			floor := floorOf(b, s, alg)
			srv := newServer(b)
			verify := newTokenwarden(twoidc.CacheConfig{Disabled: true})(b, srv, alg)
			ctx, raw := context.Background(), s.tokens[alg].Raw
			if err := verify(ctx, raw); err != nil {
				b.Fatalf("warm-up: %v", err)
			}
			tw := func() {
				if err := verify(ctx, raw); err != nil {
					b.Fatal(err)
				}
			}
			var twNs, floorNs time.Duration
			b.ReportAllocs()
			odd := false
			for b.Loop() {
				first, second := floor, tw
				if odd {
					first, second = tw, floor
				}
				t0 := time.Now()
				first()
				t1 := time.Now()
				second()
				t2 := time.Now()
				if odd {
					twNs, floorNs = twNs+t1.Sub(t0), floorNs+t2.Sub(t1)
				} else {
					floorNs, twNs = floorNs+t1.Sub(t0), twNs+t2.Sub(t1)
				}
				odd = !odd
			}
			b.ReportMetric(float64(twNs)/float64(b.N), "tokenwarden-ns/op")
			b.ReportMetric(float64(floorNs)/float64(b.N), "floor-ns/op")
			b.ReportMetric(float64(twNs)/float64(floorNs), report.UnitRatioFloorPaired)
		})
	}
}

// benchAccept times verify on one valid token and reports the JWKS fetches
// it caused per call after the warm-up.
func benchAccept(b *testing.B, srv *fixture.Server, verify verifyFunc, token string) {
	ctx := context.Background()
	if err := verify(ctx, token); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	before := srv.JWKSHits()
	b.ReportAllocs()
	for b.Loop() {
		if err := verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(srv.JWKSHits()-before)/float64(b.N), "fetches/op")
}

var rounds = flag.Int("bench.rounds", 1, "times every benchmark runs all its rows, interleaved (samples for benchstat)")

// inRounds runs body -bench.rounds times. Within a round every row of the
// benchmark runs once, so with several rounds the samples of all rows are
// interleaved in time: on a shared machine a burst of load then spreads
// over the rows instead of landing on the consecutive -count samples of
// one row. Repeated rows are named "#01", "#02"… by the testing package;
// cmd/report merges them.
func inRounds(b *testing.B, body func(*testing.B)) {
	for range max(*rounds, 1) {
		body(b)
	}
}

// floodSize is the number of distinct random kids in one flood.
const floodSize = 10_000

// BenchmarkReject is the attacker's side, RS256, after a warm-up with a
// valid token so every library holds the realm keys:
//
//   - forged-signature: a known kid with a signature that does not verify;
//   - unknown-kid: the same random unknown kid on every call;
//   - kid-flood: a flood of random kids, a new one on every call, taken
//     from batches of 10,000 built outside the timer.
//
// fetches/op is the JWKS documents the fake Keycloak served per token.
// "floor" repeats the RS256 floor so that the ratios of these rows are
// taken against a floor measured in the same rounds.
func BenchmarkReject(b *testing.B) { inRounds(b, benchReject) }

func benchReject(b *testing.B) {
	s := fixtures(b)
	good := s.tokens[fixture.RS256]
	kinds := []struct {
		name   string
		tokens func(seq uint64) []string
	}{
		{"forged-signature", func(uint64) []string { return []string{fixture.Forged(good)} }},
		{"unknown-kid", func(uint64) []string { return []string{fixture.WithKid(good, fixture.RandomKid())} }},
		{"kid-flood", func(seq uint64) []string { return fixture.KidFlood(good, floodSize, seq) }},
	}
	b.Run("floor", func(b *testing.B) { benchFloor(b, s, fixture.RS256) })
	for _, k := range kinds {
		for _, l := range rejectLibs() {
			b.Run(k.name+"/"+l.name, func(b *testing.B) {
				srv := newServer(b)
				verify := l.newVerify(b, srv, fixture.RS256)
				benchRefuse(b, srv, verify, good.Raw, k.tokens)
			})
		}
	}
}

func benchRefuse(b *testing.B, srv *fixture.Server, verify verifyFunc, good string, next func(seq uint64) []string) {
	ctx := context.Background()
	if err := verify(ctx, good); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	var seq uint64
	batch := next(seq)
	i := 0
	before := srv.JWKSHits()
	b.ReportAllocs()
	for b.Loop() {
		if i == len(batch) {
			if len(batch) > 1 {
				b.StopTimer()
				seq += uint64(len(batch))
				batch = next(seq)
				b.StartTimer()
			}
			i = 0
		}
		if err := verify(ctx, batch[i]); err == nil {
			b.Fatal("attack token accepted")
		}
		i++
	}
	b.ReportMetric(float64(srv.JWKSHits()-before)/float64(b.N), "fetches/op")
}
