package adapter

import (
	"hash/maphash"
	"strings"
	"testing"
)

var benchTok = strings.Repeat("eyJhbGciOiJSUzI1NiIsInR5cCIgOiAiSldUIiwia2lkIiA6ICJ-_", 30)

// BenchmarkIsB64Token measures the RFC 6750 charset check of a 1.5 KB token
// next to hashing it (what the verifier's cache does on every lookup).
func BenchmarkIsB64Token(b *testing.B) {
	b.SetBytes(int64(len(benchTok)))
	for b.Loop() {
		if !isB64Token(benchTok) {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkMaphashSameToken(b *testing.B) {
	seed := maphash.MakeSeed()
	b.SetBytes(int64(len(benchTok)))
	for b.Loop() {
		_ = maphash.String(seed, benchTok)
	}
}
