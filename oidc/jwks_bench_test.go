package oidc

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkKeySetKnownKid measures the hot path: a kid present in the loaded
// set. Target: 0 allocs, no lock, no fetch.
func BenchmarkKeySetKnownKid(b *testing.B) {
	srv := newJWKSServer(b, jwksJSON(b, rsaJWK(&testRSAKey(b, 0).PublicKey, "k1", nil), rsaJWK(&testRSAKey(b, 1).PublicKey, "k2", nil)))
	ks, err := NewRemoteKeySet(KeySetConfig{URL: srv.url(), InsecureAllowHTTP: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ks.Close()
	ctx := context.Background()
	if _, err := ks.Key(ctx, "k1"); err != nil {
		b.Fatal(err)
	}
	fetches := ks.Stats().Fetches
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ks.Key(ctx, "k1"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(ks.Stats().Fetches-fetches), "fetches")
}

// BenchmarkKeySetKnownKidParallel is the hot path under contention.
func BenchmarkKeySetKnownKidParallel(b *testing.B) {
	srv := newJWKSServer(b, jwksJSON(b, rsaJWK(&testRSAKey(b, 0).PublicKey, "k1", nil)))
	ks, err := NewRemoteKeySet(KeySetConfig{URL: srv.url(), InsecureAllowHTTP: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ks.Close()
	if _, err := ks.Key(context.Background(), "k1"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := ks.Key(ctx, "k1"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkKeySetNegativeKid measures an unknown kid answered from the
// negative cache (it was absent from a fresh set). Target: 0 allocs, no fetch.
func BenchmarkKeySetNegativeKid(b *testing.B) {
	srv := newJWKSServer(b, jwksJSON(b, rsaJWK(&testRSAKey(b, 0).PublicKey, "k1", nil)))
	ks, err := NewRemoteKeySet(KeySetConfig{URL: srv.url(), InsecureAllowHTTP: true, UnknownKidCooldown: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer ks.Close()
	ctx := context.Background()
	ks.Key(ctx, "k1")
	kids := make([]string, 64)
	for i := range kids {
		kids[i] = "attacker-kid-" + strconv.Itoa(i)
		ks.Key(ctx, kids[i]) // the first one fetches, the rest hit the cooldown
	}
	// Put them all in the negative cache through one shared fetch.
	ks.mu.Lock()
	ks.lastUnknownFetch = time.Time{}
	ks.mu.Unlock()
	ks.Key(ctx, kids[0])
	gen := ks.snap.Load().gen
	for _, k := range kids {
		ks.neg.Add(k, gen)
	}
	fetches := ks.Stats().Fetches
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := ks.Key(ctx, kids[i&63]); err == nil {
			b.Fatal("unknown kid accepted")
		}
		i++
	}
	b.ReportMetric(float64(ks.Stats().Fetches-fetches), "fetches")
}

// BenchmarkKeySetUnknownKidCooldown measures an unknown kid never seen before
// while the cooldown forbids a fetch (a random-kid flood). Target: 0 allocs.
func BenchmarkKeySetUnknownKidCooldown(b *testing.B) {
	srv := newJWKSServer(b, jwksJSON(b, rsaJWK(&testRSAKey(b, 0).PublicKey, "k1", nil)))
	ks, err := NewRemoteKeySet(KeySetConfig{URL: srv.url(), InsecureAllowHTTP: true, UnknownKidCooldown: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer ks.Close()
	ctx := context.Background()
	ks.Key(ctx, "k1")
	ks.Key(ctx, "spend-the-cooldown")
	kids := make([]string, 4096)
	for i := range kids {
		kids[i] = "random-" + strconv.Itoa(i)
	}
	fetches := ks.Stats().Fetches
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := ks.Key(ctx, kids[i&4095]); err == nil {
			b.Fatal("unknown kid accepted")
		}
		i++
	}
	b.ReportMetric(float64(ks.Stats().Fetches-fetches), "fetches")
}

func BenchmarkParseJWKS(b *testing.B) {
	doc := jwksJSON(b, rsaJWK(&testRSAKey(b, 0).PublicKey, "k1", nil),
		rsaJWK(&testRSAKey(b, 1).PublicKey, "enc", map[string]any{"use": "enc", "alg": "RSA-OAEP"}))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseJWKS(doc); err != nil {
			b.Fatal(err)
		}
	}
}
