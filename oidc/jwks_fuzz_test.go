package oidc

import (
	"crypto/elliptic"
	"errors"
	"testing"
)

// FuzzParseJWKS checks that ParseJWKS never panics, honours its size cap,
// and only ever returns keys that pass ValidateKey, with consistent errors.
// Seeds live in testdata/fuzz/FuzzParseJWKS.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Add(jwksJSON(f, rsaJWK(&testRSAKey(f, 0).PublicKey, "k1", nil)))
	f.Add(jwksJSON(f, ecJWK(f, &mustEC(f, elliptic.P256()).PublicKey, "e1", nil)))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, skipped, err := ParseJWKS(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidJWKS) {
				t.Fatalf("error %v does not wrap ErrInvalidJWKS", err)
			}
			if keys != nil {
				t.Fatal("keys returned with an error")
			}
		} else if len(keys) == 0 {
			t.Fatal("no keys and no error")
		}
		if len(data) > defaultMaxJWKSBytes && err == nil {
			t.Fatal("document over the cap accepted")
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if verr := validateKey(k); verr != nil {
				t.Fatalf("loaded key fails the key check: %v", verr)
			}
			if seen[k.ID] {
				t.Fatalf("duplicate kid %q loaded", k.ID)
			}
			seen[k.ID] = true
		}
		for _, s := range skipped {
			skipReason(t, s)
		}
	})
}
