package dpop

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// fuzzKey is a fixed Ed25519 key, so that the seed proofs in testdata stay
// valid (Ed25519 signatures are deterministic).
func fuzzKey() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "tokenwarden dpop fuzz seed key 1")
	return ed25519.NewKeyFromSeed(seed)
}

var fuzzNow = time.Unix(1_800_000_000, 0)

func fuzzHeader() string {
	return `{"typ":"dpop+jwt","alg":"EdDSA","jwk":{"kty":"OKP","crv":"Ed25519","x":"` +
		base64.RawURLEncoding.EncodeToString(fuzzKey().Public().(ed25519.PublicKey)) + `"}}`
}

func fuzzClaims() string {
	return `{"jti":"fz-1","htm":"GET","htu":"` + testURL + `","iat":1800000000,"ath":"` + athOf(testToken) + `"}`
}

func fuzzSign(header, payload string) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(fuzzKey(), []byte(in)))
}

// fuzzVerify checks proof against a fresh replay store, and the invariants
// of the answer: a refusal is an *Error with a known code and check, or
// nothing was accepted; an acceptance came from a proof with every
// required claim for this exact request.
func fuzzVerify(t *testing.T, proof string) {
	k, err := NewKey(fuzzKey())
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(Config{Replay: newSeen(), Now: func() time.Time { return fuzzNow },
		NonceSecret: []byte(strings.Repeat("f", 32))})
	if err != nil {
		t.Fatal(err)
	}
	v.nonce = nil // the seeds carry no nonce; NewVerifier's nonce path is still built
	p, err := v.Verify(context.Background(), request("GET", testURL, proof), testToken, k.Thumbprint())
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("refusal without a *dpop.Error: %v", err)
		}
		switch e.Code {
		case codeInvalidProof, codeInvalidToken, codeUseNonce:
		default:
			t.Fatalf("unknown code %q", e.Code)
		}
		if e.Check == "" || strings.Contains(e.Error(), testToken) {
			t.Fatalf("refusal without a check, or leaking the token: %v", e)
		}
		return
	}
	if p.JKT != k.Thumbprint() || p.ID == "" || p.IssuedAt.Before(fuzzNow.Add(-time.Minute)) || p.IssuedAt.After(fuzzNow.Add(5*time.Second)) {
		t.Fatalf("accepted %+v", p)
	}
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		t.Fatal("accepted a proof that is not three segments")
	}
	var claims map[string]any
	payload, _ := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if json.Unmarshal(payload, &claims) != nil || claims["htm"] != "GET" || claims["ath"] != athOf(testToken) {
		t.Fatalf("accepted claims %s", payload)
	}
}

// FuzzVerifyProof: any DPoP header value.
func FuzzVerifyProof(f *testing.F) {
	f.Add(fuzzSign(fuzzHeader(), fuzzClaims()))
	f.Add("e30.e30.AA")
	f.Add("")
	f.Fuzz(func(t *testing.T, proof string) { fuzzVerify(t, proof) })
}

// FuzzProofParts: any protected header and payload, signed by the key its
// jwk is expected to hold, so that the fuzzer reaches every check after
// the signature.
func FuzzProofParts(f *testing.F) {
	f.Add(fuzzHeader(), fuzzClaims())
	f.Add(strings.Replace(fuzzHeader(), `"typ":"dpop+jwt",`, ``, 1), fuzzClaims())
	f.Add(fuzzHeader(), strings.Replace(fuzzClaims(), `"htm":"GET"`, `"htm":"GET","HTM":"POST"`, 1))
	f.Add(fuzzHeader(), `{"jti":"a","htm":"GET","htu":"HTTPS://API.example.com:443/api/./profile?x#y","iat":1799999999,"ath":"`+athOf(testToken)+`","nonce":null}`)
	f.Fuzz(func(t *testing.T, header, payload string) { fuzzVerify(t, fuzzSign(header, payload)) })
}

// TestFuzzSeedAccepted: the valid seed is accepted, so the fuzzer starts
// from a proof that reaches every check.
func TestFuzzSeedAccepted(t *testing.T) {
	k, _ := NewKey(fuzzKey())
	v, _ := NewVerifier(Config{Replay: newSeen(), Now: func() time.Time { return fuzzNow }})
	r := request("GET", testURL, fuzzSign(fuzzHeader(), fuzzClaims()))
	if _, err := v.Verify(context.Background(), r, testToken, k.Thumbprint()); err != nil {
		t.Fatal(err)
	}
}
