package jose

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestDecodeCanonical(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"", true}, {"QQ", true}, {"QUI", true}, {"QUJD", true},
		{"QR", false},   // unused bits set
		{"QUJ", false},  // unused bits set
		{"QQ==", false}, // padding
		{"Q", false},    // impossible length
		{"QU D", false}, // whitespace
		{"QU+D", false}, // standard alphabet
	} {
		b, ok := DecodeString(tc.in)
		if ok != tc.ok {
			t.Errorf("%q: ok = %v (%q)", tc.in, ok, b)
		}
	}
}

func TestParseHeader(t *testing.T) {
	h, err := ParseHeader(`{"alg":"ES256","typ":"dpop+jwt","jwk":{"kty":"EC","crv":"P-256","x":"a","y":"b"},"x5c":["x"]}`)
	if err != nil || h.Alg != "ES256" || !h.HasTyp || h.Typ != "dpop+jwt" || h.JWK != `{"kty":"EC","crv":"P-256","x":"a","y":"b"}` {
		t.Fatalf("%+v %v", h, err)
	}
	for name, hdr := range map[string]string{
		"crit empty":       `{"alg":"RS256","crit":[]}`,
		"b64":              `{"alg":"RS256","b64":false}`,
		"zip":              `{"alg":"RS256","zip":"DEF"}`,
		"duplicate alg":    `{"alg":"none","alg":"RS256"}`,
		"case variant":     `{"alg":"RS256","ALG":"none"}`,
		"no alg":           `{"kid":"k"}`,
		"jwk not object":   `{"alg":"RS256","jwk":"x"}`,
		"kid too long":     `{"alg":"RS256","kid":"` + strings.Repeat("k", MaxKeyIDBytes+1) + `"}`,
		"trailing":         `{"alg":"RS256"}x`,
		"not an object":    `["alg"]`,
		"duplicate in jwk": `{"alg":"RS256","jwk":{"kty":"EC","kty":"RSA"}}`,
	} {
		if _, err := ParseHeader(hdr); err == nil {
			t.Errorf("%s: accepted", name)
		} else if e, ok := err.(*Error); !ok || e.Kind != Malformed {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestParseHeaderBound: a header with more than 256 members and elements in
// all is refused before anything else is looked at.
func TestParseHeaderBound(t *testing.T) {
	hdr := func(n int) string { // n values: the members alg and x, n-2 elements
		return `{"alg":"RS256","x":[0` + strings.Repeat(",0", n-3) + `]}`
	}
	if _, err := ParseHeader(hdr(256)); err != nil {
		t.Fatalf("256 values: %v", err)
	}
	if _, err := ParseHeader(hdr(257)); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Fatalf("257 values: %v", err)
	}
}

func TestSplit(t *testing.T) {
	hdr := enc(`{"alg":"RS256","kid":"k"}`)
	tok := hdr + "." + enc(`{}`) + ".c2ln"
	c, err := Split(tok, 1<<10)
	if err != nil || c.Alg != RS256 || c.Header.Kid != "k" || c.SigningInput() != hdr+"."+enc(`{}`) {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := Split(tok, len(tok)-1); err != errTooLarge {
		t.Errorf("too large: %v", err)
	}
	for name, bad := range map[string]string{
		"two segments":   hdr + "." + enc(`{}`),
		"four segments":  tok + ".x",
		"json":           `{"payload":"x"}`,
		"empty header":   "." + enc(`{}`) + ".c2ln",
		"padded header":  hdr + "=." + enc(`{}`) + ".c2ln",
		"empty sig":      hdr + "." + enc(`{}`) + ".",
		"header too big": enc(`{"alg":"RS256","x":"`+strings.Repeat("x", MaxHeaderBytes)+`"}`) + ".e30.c2ln",
	} {
		if _, err := Split(bad, 64<<10); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestThumbprintRFC7638 checks the example of RFC 7638 §3.1.
func TestThumbprintRFC7638(t *testing.T) {
	const jwk = `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`
	k, err := ParseJWK(jwk, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	tp, err := Thumbprint(k.Public)
	if err != nil || tp != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("thumbprint %q, %v", tp, err)
	}
}

// TestThumbprintIgnoresSpelling: member order, extra members and the key
// material's encoding do not change a thumbprint; other key types hash
// their required members in order.
func TestThumbprintIgnoresSpelling(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pt, _ := ec.PublicKey.Bytes()
	x, y := base64.RawURLEncoding.EncodeToString(pt[1:33]), base64.RawURLEncoding.EncodeToString(pt[33:])
	want := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	for _, jwk := range []string{
		`{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `"}`,
		`{"y":"` + y + `","use":"sig","x":"` + x + `","crv":"P-256","kid":"z","kty":"EC"}`,
	} {
		k, err := ParseJWK(jwk, Policy{})
		if err != nil {
			t.Fatal(err)
		}
		if tp, _ := Thumbprint(k.Public); tp != base64.RawURLEncoding.EncodeToString(want[:]) {
			t.Fatalf("thumbprint %s", tp)
		}
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	want = sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`))
	if tp, _ := Thumbprint(pub); tp != base64.RawURLEncoding.EncodeToString(want[:]) {
		t.Fatal("ed25519 thumbprint")
	}
	if _, err := Thumbprint("not a key"); err == nil {
		t.Fatal("thumbprint of a string")
	}
}

// TestParseJWKPinned: a DPoP proof's jwk takes the header's algorithm;
// private members, symmetric keys and mismatches are refused.
func TestParseJWKPinned(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	n := base64.RawURLEncoding.EncodeToString(rk.N.Bytes())
	rsaJWK := `{"kty":"RSA","n":"` + n + `","e":"AQAB"}`
	k, err := ParseJWK(rsaJWK, Policy{Alg: PS256})
	if err != nil || k.Algorithm != "PS256" {
		t.Fatalf("%v %v", k, err)
	}
	if k, err := ParseJWK(rsaJWK, Policy{}); err != nil || k.Algorithm != "RS256" {
		t.Fatalf("inferred: %v %v", k, err)
	}
	for name, tc := range map[string]struct {
		jwk string
		p   Policy
		why SkipReason
	}{
		"alg differs":    {`{"kty":"RSA","alg":"RS256","n":"` + n + `","e":"AQAB"}`, Policy{Alg: PS256}, SkipAlgMismatch},
		"ES256 on rsa":   {rsaJWK, Policy{Alg: ES256}, SkipAlgMismatch},
		"private":        {`{"kty":"RSA","n":"` + n + `","e":"AQAB","d":"AQAB"}`, Policy{}, SkipPrivateKey},
		"oct":            {`{"kty":"oct","k":"AQAB"}`, Policy{Alg: ES256}, SkipSymmetric},
		"not allowed":    {rsaJWK, Policy{Algs: SetOf(ES256)}, SkipUnsupported},
		"repeated":       {`{"kty":"RSA","n":"` + n + `","e":"AQAB","e":"AQAB"}`, Policy{}, SkipMalformed},
		"short rsa":      {`{"kty":"RSA","n":"` + n[:100] + `","e":"AQAB"}`, Policy{}, SkipWeakKey},
		"raised minimum": {rsaJWK, Policy{MinRSABits: 3072}, SkipWeakKey},
	} {
		_, err := ParseJWK(tc.jwk, tc.p)
		var s *Skip
		if !errors.As(err, &s) || s.Reason != tc.why {
			t.Errorf("%s: %v, want %s", name, err, tc.why)
		}
	}
	if _, err := ParseJWK(`[]`, Policy{}); err == nil {
		t.Fatal("array accepted")
	}
}

// TestROCAFingerprint: the Wycheproof ROCA key (json_web_key_test.json
// tcId 7) is detected; random keys are not.
func TestROCAFingerprint(t *testing.T) {
	n, err := base64.RawURLEncoding.DecodeString("AanFpofbj7KjD4Lf-N2hVMKR7yewSyXhhbirIMTGpfYEhZ_lnt5UoK98DnKIgArXGTu3MaW_HhFw16HGaTDUHqPrId7fe4r11CqRw09yBFuW79V8sYIwHdzCaWflUI6auImYbVfoN9_nD5n8N8SY9DwXw7mwZM9wREPXoDPgOoIWl6q_MPsp7n0zs3Z5ZaiQWOOzl1S9OhwAfSiiOwz6efnXEaxuTEtPd7BjSx7NaFka8Dx9U7YqXy2RFj1O9PjyaDGuRh7YXsX3iMUSP_wSyHQg_c_qHRtKUsNSGCT7OZg0hzm2KphtjnayKJvC64vAbROBR4Ubg6Bxg9IQVZ-QYyE")
	if err != nil {
		t.Fatal(err)
	}
	if !rocaFingerprint(new(big.Int).SetBytes(n)) {
		t.Fatal("ROCA key not detected")
	}
	for i := range 2 {
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		if rocaFingerprint(k.N) {
			t.Fatalf("random key %d flagged as ROCA", i)
		}
	}
}

// TestVerifyECDSABothSpellings: an ES256 signature (r, s) and its twin
// (r, n−s) both verify, which is why caches and deny-lists never key on the
// token string alone.
func TestVerifyECDSABothSpellings(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	input := []byte(enc(`{"alg":"ES256"}`) + "." + enc(`{}`))
	d := sha256.Sum256(input)
	r, s, err := ecdsa.Sign(rand.Reader, ec, d[:])
	if err != nil {
		t.Fatal(err)
	}
	twin := new(big.Int).Sub(elliptic.P256().Params().N, s)
	k := &Key{Algorithm: "ES256", Public: &ec.PublicKey}
	for _, sv := range []*big.Int{s, twin} {
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		sv.FillBytes(sig[32:])
		if err := Verify(k, ES256, "ES256", input, sig); err != nil {
			t.Fatalf("spelling refused: %v", err)
		}
	}
}

func TestAlgSet(t *testing.T) {
	s, err := ParseAlgSet([]string{"RS256", "EdDSA"})
	if err != nil || !s.Has(RS256) || !s.Has(EdDSA) || s.Has(PS256) || s.Has(AlgInvalid) {
		t.Fatalf("%b %v", s, err)
	}
	if _, err := ParseAlgSet([]string{"HS256"}); !errors.Is(err, ErrUnsupportedAlg) {
		t.Fatalf("HS256: %v", err)
	}
	for _, n := range Names() {
		if ParseAlg(n).String() != n {
			t.Fatalf("%s does not round-trip", n)
		}
	}
	if ParseAlg("rs256") != AlgInvalid || ParseAlg("none") != AlgInvalid {
		t.Fatal("case-insensitive or none accepted")
	}
}

// BenchmarkParseHeaderMembers parses protected headers of n members, named
// to defeat a pairwise duplicate check; the cost per member must stay flat.
func BenchmarkParseHeaderMembers(b *testing.B) {
	for _, n := range []int{4, 677} {
		var sb strings.Builder
		sb.WriteString(`{"alg":"RS256","kid":"k"`)
		for i := range n {
			name := strconv.FormatInt(int64(i), 36)
			fmt.Fprintf(&sb, `,"a%s%sa":0`, strings.Repeat("0", 2-len(name)), name)
		}
		sb.WriteString("}")
		h := sb.String()
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseHeader(h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDecodeAgreesWithEncodingBase64: on random strings of the alphabet
// (and a few other bytes), Decode accepts exactly what the standard
// library's strict unpadded base64url decoder accepts, except that it
// refuses newlines (which the library skips), and decodes it the same way.
func TestDecodeAgreesWithEncodingBase64(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	rng := mrand.New(mrand.NewPCG(7, 9))
	for n := range 70 {
		for range 200 {
			b := make([]byte, n)
			for i := range b {
				if rng.IntN(50) == 0 {
					b[i] = "=+/ .\n\x00é"[rng.IntN(9)]
				} else {
					b[i] = alphabet[rng.IntN(64)]
				}
			}
			want, werr := base64.RawURLEncoding.Strict().DecodeString(string(b))
			if strings.ContainsAny(string(b), "\r\n") {
				werr = errors.New("encoding/base64 skips newlines; Decode refuses them")
			}
			got, ok := DecodeString(string(b))
			if ok != (werr == nil) || ok && string(got) != string(want) {
				t.Fatalf("%q: got %x %v, encoding/base64 %x %v", b, got, ok, want, werr)
			}
		}
	}
}
