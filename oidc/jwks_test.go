package oidc

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

func TestParseJWKSKeyFiltering(t *testing.T) {
	rk := testRSAKey(t, 0)
	rpub := &rk.PublicKey
	p256 := mustEC(t, elliptic.P256())
	p384 := mustEC(t, elliptic.P384())
	p521 := mustEC(t, elliptic.P521())
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	offCurve := ecJWK(t, &p256.PublicKey, "k", nil)
	offCurve["y"] = b64(append(make([]byte, 31), 7))

	tests := []struct {
		name    string
		jwk     map[string]any
		wantAlg string          // set when the key must load
		want    jose.SkipReason // set when the key must be skipped
		check   func(*Key) error
	}{
		{"rsa RS256", rsaJWK(rpub, "k", nil), RS256, "", nil},
		{"rsa PS384", rsaJWK(rpub, "k", map[string]any{"alg": "PS384"}), PS384, "", nil},
		{"rsa alg absent infers RS256 only", rsaJWK(rpub, "k", map[string]any{"alg": nil}), RS256, "", nil},
		{"rsa use absent", rsaJWK(rpub, "k", map[string]any{"use": nil}), RS256, "", nil},
		{"rsa key_ops verify", rsaJWK(rpub, "k", map[string]any{"key_ops": []string{"verify"}}), RS256, "", nil},
		{"rsa x5c ignored", rsaJWK(rpub, "k", map[string]any{"x5c": []string{"MIIBIjAN"}, "x5t": "abc"}), RS256, "", nil},
		{"rsa unknown member ignored", rsaJWK(rpub, "k", map[string]any{"ext": true}), RS256, "", nil},
		{"ec P-256 alg inferred", ecJWK(t, &p256.PublicKey, "k", nil), ES256, "", nil},
		{"ec P-384 alg inferred", ecJWK(t, &p384.PublicKey, "k", nil), ES384, "", nil},
		{"ec P-521 ES512", ecJWK(t, &p521.PublicKey, "k", map[string]any{"alg": "ES512"}), ES512, "", nil},
		{"okp Ed25519 inferred", edJWK(edPub, "k", nil), EdDSA, "", nil},
		{"okp Ed25519 EdDSA", edJWK(edPub, "k", map[string]any{"alg": "EdDSA", "use": "sig"}), EdDSA, "", nil},

		{"use enc (Keycloak RSA-OAEP)", rsaJWK(rpub, "k", map[string]any{"use": "enc", "alg": "RSA-OAEP"}), "", jose.SkipNotSigning, nil},
		{"use unknown", rsaJWK(rpub, "k", map[string]any{"use": "SIG"}), "", jose.SkipNotSigning, nil},
		{"key_ops without verify", rsaJWK(rpub, "k", map[string]any{"key_ops": []string{"encrypt"}}), "", jose.SkipNotSigning, nil},
		{"key_ops not an array", rsaJWK(rpub, "k", map[string]any{"key_ops": "verify"}), "", jose.SkipMalformed, nil},
		{"oct HS256", map[string]any{"kty": "oct", "kid": "k", "alg": "HS256", "k": b64(make([]byte, 32))}, "", jose.SkipSymmetric, nil},
		{"oct without alg", map[string]any{"kty": "oct", "kid": "k", "k": b64(make([]byte, 32))}, "", jose.SkipSymmetric, nil},
		{"alg none", rsaJWK(rpub, "k", map[string]any{"alg": "none"}), "", jose.SkipUnsupported, nil},
		{"alg HS256 on rsa", rsaJWK(rpub, "k", map[string]any{"alg": "HS256"}), "", jose.SkipUnsupported, nil},
		{"alg RS256 lower case", rsaJWK(rpub, "k", map[string]any{"alg": "rs256"}), "", jose.SkipUnsupported, nil},
		{"unknown kty", map[string]any{"kty": "XYZ", "kid": "k"}, "", jose.SkipUnsupported, nil},
		{"kty missing", map[string]any{"kid": "k", "n": "AQAB"}, "", jose.SkipMalformed, nil},
		{"kty not a string", map[string]any{"kty": 1, "kid": "k"}, "", jose.SkipMalformed, nil},
		{"kid not a string", rsaJWK(rpub, "k", map[string]any{"kid": 7}), "", jose.SkipMalformed, nil},
		{"kid too long", rsaJWK(rpub, strings.Repeat("a", 513), nil), "", jose.SkipLongKeyID, nil},
		{"rsa 1024 bits", rsaJWK(&small.PublicKey, "k", nil), "", jose.SkipWeakKey, nil},
		{"rsa exponent 1", rsaJWK(rpub, "k", map[string]any{"e": "AQ"}), "", jose.SkipWeakKey, nil},
		{"rsa exponent even", rsaJWK(rpub, "k", map[string]any{"e": b64(big.NewInt(65536).Bytes())}), "", jose.SkipWeakKey, nil},
		{"rsa exponent huge", rsaJWK(rpub, "k", map[string]any{"e": b64(make([]byte, 9))}), "", jose.SkipWeakKey, nil},
		{"rsa modulus even", rsaJWK(rpub, "k", map[string]any{"n": b64(new(big.Int).Lsh(rpub.N, 1).Bytes()[1:])}), "", jose.SkipWeakKey, nil},
		{"rsa n missing", rsaJWK(rpub, "k", map[string]any{"n": nil}), "", jose.SkipMalformed, nil},
		{"rsa n padded base64", rsaJWK(rpub, "k", map[string]any{"n": b64(rpub.N.Bytes()) + "=="}), "", jose.SkipMalformed, nil},
		{"rsa n std base64", rsaJWK(rpub, "k", map[string]any{"n": strings.NewReplacer("-", "+", "_", "/").Replace(b64(rpub.N.Bytes())) + "+"}), "", jose.SkipMalformed, nil},
		{"rsa with ES256", rsaJWK(rpub, "k", map[string]any{"alg": "ES256"}), "", jose.SkipAlgMismatch, nil},
		{"rsa private d", rsaJWK(rpub, "k", map[string]any{"d": b64(rk.D.Bytes())}), "", jose.SkipPrivateKey, nil},
		{"ec private d", ecJWK(t, &p256.PublicKey, "k", map[string]any{"d": b64(p256.D.Bytes())}), "", jose.SkipPrivateKey, nil},
		{"ec alg/curve mismatch ES384 on P-256", ecJWK(t, &p256.PublicKey, "k", map[string]any{"alg": "ES384"}), "", jose.SkipAlgMismatch, nil},
		{"ec RS256 on EC", ecJWK(t, &p256.PublicKey, "k", map[string]any{"alg": "RS256"}), "", jose.SkipAlgMismatch, nil},
		{"ec crv P-384 with P-256 coordinates", ecJWK(t, &p256.PublicKey, "k", map[string]any{"crv": "P-384"}), "", jose.SkipInvalidPoint, nil},
		{"ec point off curve", offCurve, "", jose.SkipInvalidPoint, nil},
		{"ec short coordinate", ecJWK(t, &p256.PublicKey, "k", map[string]any{"x": b64(make([]byte, 31))}), "", jose.SkipInvalidPoint, nil},
		{"ec unknown curve", ecJWK(t, &p256.PublicKey, "k", map[string]any{"crv": "secp256k1"}), "", jose.SkipUnsupported, nil},
		{"ec y missing", ecJWK(t, &p256.PublicKey, "k", map[string]any{"y": nil}), "", jose.SkipMalformed, nil},
		{"okp X25519", edJWK(edPub, "k", map[string]any{"crv": "X25519"}), "", jose.SkipUnsupported, nil},
		{"okp Ed448", edJWK(edPub, "k", map[string]any{"crv": "Ed448"}), "", jose.SkipUnsupported, nil},
		{"okp wrong length", edJWK(edPub[:31], "k", nil), "", jose.SkipInvalidPoint, nil},
		{"okp private d", edJWK(edPub, "k", map[string]any{"d": b64(make([]byte, 32))}), "", jose.SkipPrivateKey, nil},
		{"okp with ES256", edJWK(edPub, "k", map[string]any{"alg": "ES256"}), "", jose.SkipAlgMismatch, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok := rsaJWK(&testRSAKey(t, 1).PublicKey, "other", nil)
			keys, skipped, err := ParseJWKS(jwksJSON(t, tt.jwk, ok))
			if err != nil {
				t.Fatalf("the other key must keep the set usable: %v", err)
			}
			var got *Key
			for _, k := range keys {
				if k.ID == "k" || k.ID == strings.Repeat("a", 513) {
					got = k
				}
			}
			if tt.wantAlg != "" {
				if got == nil {
					t.Fatalf("key skipped: %v", skipped)
				}
				if got.Algorithm != tt.wantAlg {
					t.Fatalf("alg %q, want %q", got.Algorithm, tt.wantAlg)
				}
				if err := validateKey(got); err != nil {
					t.Fatalf("loaded key fails the key check: %v", err)
				}
				if len(skipped) != 0 {
					t.Fatalf("unexpected skips %v", skipped)
				}
				return
			}
			if got != nil {
				t.Fatalf("key loaded with alg %s, want skipped (%s)", got.Algorithm, tt.want)
			}
			if len(skipped) != 1 {
				t.Fatalf("skipped %d keys, want 1: %v", len(skipped), skipped)
			}
			if r, i := skipReason(t, skipped[0]); r != tt.want || i != 0 {
				t.Fatalf("skip %q at %d (%v), want %q at 0", r, i, skipped[0], tt.want)
			}
			if len(keys) != 1 || keys[0].ID != "other" {
				t.Fatalf("the valid key was not kept: %v", keys)
			}
		})
	}
}

func TestParseJWKSDuplicateKid(t *testing.T) {
	a := rsaJWK(&testRSAKey(t, 0).PublicKey, "dup", nil)
	b := rsaJWK(&testRSAKey(t, 1).PublicKey, "dup", nil)
	c := rsaJWK(&testRSAKey(t, 2).PublicKey, "c", nil)
	enc := rsaJWK(&testRSAKey(t, 2).PublicKey, "c", map[string]any{"use": "enc", "alg": "RSA-OAEP"})
	noKid1 := rsaJWK(&testRSAKey(t, 0).PublicKey, "", map[string]any{"kid": nil})
	noKid2 := rsaJWK(&testRSAKey(t, 1).PublicKey, "", map[string]any{"kid": nil})

	keys, skipped, err := ParseJWKS(jwksJSON(t, a, c, b, enc, noKid1, noKid2))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID != "c" {
		t.Fatalf("keys %v, want only c (an enc key sharing its kid is no ambiguity)", keys)
	}
	var reasons []jose.SkipReason
	var idx []int
	for _, s := range skipped {
		r, i := skipReason(t, s)
		reasons = append(reasons, r)
		idx = append(idx, i)
	}
	want := []jose.SkipReason{jose.SkipDuplicateKeyID, jose.SkipDuplicateKeyID, jose.SkipNotSigning, jose.SkipDuplicateKeyID, jose.SkipDuplicateKeyID}
	wantIdx := []int{0, 2, 3, 4, 5}
	if len(reasons) != len(want) {
		t.Fatalf("skips %v at %v, want %v at %v", reasons, idx, want, wantIdx)
	}
	for i := range want {
		if reasons[i] != want[i] || idx[i] != wantIdx[i] {
			t.Fatalf("skips %v at %v, want %v at %v", reasons, idx, want, wantIdx)
		}
	}

	// A single kid-less key is kept and found by the empty kid.
	keys, _, err = ParseJWKS(jwksJSON(t, noKid1, c))
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v err %v", keys, err)
	}
}

func TestParseJWKSDocument(t *testing.T) {
	good := string(jwksJSON(t, rsaJWK(&testRSAKey(t, 0).PublicKey, "k", nil)))
	goodKey := good[len(`{"keys":[`) : len(good)-2]
	tests := []struct {
		name    string
		doc     string
		opts    *jwksOpts
		wantErr error
		keys    int
	}{
		{"valid", good, nil, nil, 1},
		{"other members ignored", `{"x":{"y":[1,2]},"keys":[` + goodKey + `]}`, nil, nil, 1},
		{"empty", ``, nil, ErrInvalidJWKS, 0},
		{"null", `null`, nil, ErrInvalidJWKS, 0},
		{"array", `[` + goodKey + `]`, nil, ErrInvalidJWKS, 0},
		{"no keys", `{}`, nil, ErrInvalidJWKS, 0},
		{"empty keys", `{"keys":[]}`, nil, ErrInvalidJWKS, 0},
		{"keys object", `{"keys":{}}`, nil, ErrInvalidJWKS, 0},
		{"keys null", `{"keys":null}`, nil, ErrInvalidJWKS, 0},
		{"Keys case variant", `{"Keys":[` + goodKey + `]}`, nil, ErrInvalidJWKS, 0},
		{"duplicate keys member", `{"keys":[` + goodKey + `],"keys":[` + goodKey + `]}`, nil, ErrInvalidJWKS, 0},
		{"trailing data", good + `{}`, nil, ErrInvalidJWKS, 0},
		{"truncated", good[:len(good)-3], nil, ErrInvalidJWKS, 0},
		{"only bad keys", `{"keys":[1,"x",null,{"kty":"oct","k":"AA"}]}`, nil, ErrInvalidJWKS, 0},
		{"duplicate member in key", `{"keys":[` + strings.Replace(goodKey, `"kty":"RSA"`, `"kty":"RSA","kty":"EC"`, 1) + `]}`, nil, ErrInvalidJWKS, 0},
		{"Kty case variant not a kty", `{"keys":[` + strings.Replace(goodKey, `"kty":"RSA"`, `"KTY":"RSA"`, 1) + `]}`, nil, ErrInvalidJWKS, 0},
		{"over the size cap", `{"pad":"` + strings.Repeat("a", defaultMaxJWKSBytes) + `","keys":[` + goodKey + `]}`, nil, ErrInvalidJWKS, 0},
		{"raised size cap", `{"pad":"` + strings.Repeat("a", defaultMaxJWKSBytes) + `","keys":[` + goodKey + `]}`, &jwksOpts{max: 1 << 20}, nil, 1},
		{"allow-list excludes RS256", good, &jwksOpts{p: jose.Policy{Algs: jose.SetOf(jose.ES256)}}, ErrInvalidJWKS, 0},
		{"allow-list has RS256", good, &jwksOpts{p: jose.Policy{Algs: jose.SetOf(jose.ES256, jose.RS256)}}, nil, 1},
		{"min RSA bits 3072", good, &jwksOpts{p: jose.Policy{MinRSABits: 3072}}, ErrInvalidJWKS, 0},
		{"min RSA bits below floor ignored", good, &jwksOpts{p: jose.Policy{MinRSABits: 512}}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, _, err := ParseJWKS([]byte(tt.doc))
			if tt.opts != nil {
				keys, _, err = parseJWKS([]byte(tt.doc), tt.opts.p, cmp.Or(tt.opts.max, defaultMaxJWKSBytes))
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if len(keys) != tt.keys {
				t.Fatalf("%d keys, want %d", len(keys), tt.keys)
			}
		})
	}
}

// TestParseJWKSKeycloakShape loads a JWKS shaped like Keycloak 26's certs
// endpoint: an RS256 signing key and an RSA-OAEP encryption key, both with
// certificate chains.
func TestParseJWKSKeycloakShape(t *testing.T) {
	sig := rsaJWK(&testRSAKey(t, 0).PublicKey, "sig-kid", map[string]any{
		"x5c": []string{"MIICsz"}, "x5t": "aaa", "x5t#S256": "bbb"})
	enc := rsaJWK(&testRSAKey(t, 1).PublicKey, "enc-kid", map[string]any{
		"use": "enc", "alg": "RSA-OAEP", "x5c": []string{"MIICsz"}})
	keys, skipped, err := ParseJWKS(jwksJSON(t, enc, sig))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID != "sig-kid" || keys[0].Algorithm != RS256 {
		t.Fatalf("keys %+v", keys)
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0].Error(), `(kid "enc-kid")`) {
		t.Fatalf("skipped %v", skipped)
	}
	if r, _ := skipReason(t, skipped[0]); r != jose.SkipNotSigning {
		t.Fatalf("skipped as %s", r)
	}
	if !keys[0].Public.(*rsa.PublicKey).Equal(&testRSAKey(t, 0).PublicKey) {
		t.Fatal("wrong public key")
	}
}

func TestParseJWKSKeysVerify(t *testing.T) {
	// Loaded keys verify signatures made by their private halves.
	rk := testRSAKey(t, 0)
	ek := mustEC(t, elliptic.P384())
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	doc := jwksJSON(t,
		rsaJWK(&rk.PublicKey, "rs", map[string]any{"alg": "PS256"}),
		ecJWK(t, &ek.PublicKey, "es", nil),
		edJWK(edPub, "ed", nil))
	keys, _, err := ParseJWKS(doc)
	if err != nil || len(keys) != 3 {
		t.Fatalf("keys %v err %v", keys, err)
	}
	byID := map[string]*Key{}
	for _, k := range keys {
		byID[k.ID] = k
	}
	sign := func(alg string, sig []byte) string {
		h := b64([]byte(`{"alg":"` + alg + `"}`))
		return h + "." + b64([]byte(`{}`)) + "." + b64(sig)
	}
	// PS256
	{
		h := b64([]byte(`{"alg":"PS256"}`)) + "." + b64([]byte(`{}`))
		d := sha256Sum([]byte(h))
		sig, err := rsa.SignPSS(rand.Reader, rk, crypto.SHA256, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatal(err)
		}
		if err := verifyWithKey(byID["rs"], h+"."+b64(sig)); err != nil {
			t.Fatalf("PS256: %v", err)
		}
		if err := verifyWithKey(byID["rs"], sign("RS256", sig)); err == nil {
			t.Fatal("a PS256 key verified an RS256 header")
		}
	}
	// ES384
	{
		h := b64([]byte(`{"alg":"ES384"}`)) + "." + b64([]byte(`{}`))
		d := sha384Sum([]byte(h))
		r, s, err := ecdsa.Sign(rand.Reader, ek, d)
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 96)
		r.FillBytes(sig[:48])
		s.FillBytes(sig[48:])
		if err := verifyWithKey(byID["es"], h+"."+b64(sig)); err != nil {
			t.Fatalf("ES384: %v", err)
		}
	}
	// EdDSA
	{
		h := b64([]byte(`{"alg":"EdDSA"}`)) + "." + b64([]byte(`{}`))
		sig := ed25519.Sign(edPriv, []byte(h))
		if err := verifyWithKey(byID["ed"], h+"."+b64(sig)); err != nil {
			t.Fatalf("EdDSA: %v", err)
		}
	}
}

func sha256Sum(b []byte) []byte { h := sha256.Sum256(b); return h[:] }
func sha384Sum(b []byte) []byte { h := sha512.Sum384(b); return h[:] }

// jwksOpts are the policy and size cap a RemoteKeySet passes to the JWKS
// parser (KeySetConfig.Algorithms, MinRSABits, MaxBodyBytes).
type jwksOpts struct {
	p   jose.Policy
	max int
}
