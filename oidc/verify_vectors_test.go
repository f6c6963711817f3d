package oidc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vectorsDir returns the third-party vectors directory: $TOKENWARDEN_VECTORS,
// else ../../shared/vectors relative to this package. Missing vectors skip
// the test, or fail it when CI=true.
func vectorsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("TOKENWARDEN_VECTORS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "vectors")
	}
	if _, err := os.Stat(filepath.Join(dir, "wycheproof")); err != nil {
		msg := "test vectors not found in " + dir + " (set TOKENWARDEN_VECTORS)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

// publicJWKS turns one JWK (possibly private) into a JWK Set holding only
// its public members, loaded with ParseJWKS exactly as a JWKS endpoint's
// document would be.
func publicJWKS(t *testing.T, jwk map[string]any) KeySource {
	t.Helper()
	pub := map[string]any{}
	for k, v := range jwk {
		switch k {
		case "d", "p", "q", "dp", "dq", "qi", "oth", "k":
		default:
			pub[k] = v
		}
	}
	doc, _ := json.Marshal(map[string]any{"keys": []any{pub}})
	keys, _, err := ParseJWKS(doc)
	if err != nil {
		return NewStaticKeySet() // no usable key: every lookup is unknown
	}
	return NewStaticKeySet(keys...)
}

// wycheproofDefects are cases whose label this verifier deliberately does
// not follow; each is still asserted: it must be refused.
var wycheproofDefects = map[int]string{
	367: "identical to a valid case (invalid label on a valid token); HMAC, refused anyway",
	370: "identical to a valid case (invalid label on a valid token); HMAC, refused anyway",
	372: "contains '?', labelled valid; HMAC, refused anyway",
	373: "contains '?', labelled valid; HMAC, refused anyway",
	346: "key pinned to PS256, header PS384: refused because alg is pinned to the key",
	347: "key alg ES521 (not a JWS name), header ES512: the key is unusable",
	350: "key pinned to PS256, header PS384: refused because alg is pinned to the key",
	351: "key alg ES521 (not a JWS name), header ES512: the key is unusable",
}

// TestWycheproofJWS runs every case of json_web_signature_test.json through
// the JWS signature layer (verifyJWS, every asymmetric algorithm allowed).
// Rules: a "valid" case on an asymmetric signing key must verify and return
// the payload; a "valid" case keyed with a symmetric (oct) key must be
// refused with ErrAlgorithm (this verifier never accepts HS*); every
// "invalid" case must be refused; "acceptable" cases (none in the current
// file) must be refused as well, the strict choice; the defects above must
// be refused.
func TestWycheproofJWS(t *testing.T) {
	dir := vectorsDir(t)
	data, err := os.ReadFile(filepath.Join(dir, "wycheproof", "testvectors_v1", "json_web_signature_test.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		NumberOfTests int `json:"numberOfTests"`
		TestGroups    []struct {
			Private map[string]any `json:"private"`
			Public  map[string]any `json:"public"`
			Tests   []struct {
				TcID    int    `json:"tcId"`
				Comment string `json:"comment"`
				JWS     string `json:"jws"`
				Result  string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	ran, accepted := 0, 0
	for _, g := range file.TestGroups {
		jwk := g.Public
		if jwk == nil {
			jwk = g.Private
		}
		symmetric := jwk["kty"] == "oct"
		ks := publicJWKS(t, jwk)
		for _, tc := range g.Tests {
			ran++
			payload, err := verifyJWS(context.Background(), ks, tc.JWS)
			reason, defect := wycheproofDefects[tc.TcID]
			switch {
			case defect:
				if err == nil {
					t.Errorf("tcId %d (%s): accepted, want refused: %s", tc.TcID, tc.Comment, reason)
				}
			case tc.Result == "valid" && symmetric:
				if !errors.Is(err, ErrAlgorithm) {
					t.Errorf("tcId %d (%s): error %v, want ErrAlgorithm for an HMAC token", tc.TcID, tc.Comment, err)
				}
			case tc.Result == "valid":
				if err != nil {
					t.Errorf("tcId %d (%s): %v", tc.TcID, tc.Comment, err)
					continue
				}
				accepted++
				seg := strings.Split(tc.JWS, ".")[1]
				want, _ := base64.RawURLEncoding.DecodeString(seg)
				if !bytes.Equal(payload, want) {
					t.Errorf("tcId %d: payload differs", tc.TcID)
				}
			default: // invalid, acceptable
				if err == nil {
					t.Errorf("tcId %d (%s, %s): accepted", tc.TcID, tc.Comment, tc.Result)
				}
			}
		}
	}
	if ran != file.NumberOfTests || ran != 401 {
		t.Fatalf("ran %d cases, file declares %d", ran, file.NumberOfTests)
	}
	t.Logf("%d cases run, %d accepted", ran, accepted)
	if accepted < 20 {
		t.Fatalf("only %d cases accepted: the harness is not exercising valid signatures", accepted)
	}
}

// TestJOSECookbook runs the RFC 7520 examples: 4.1 RS256, 4.2 PS384 and 4.3
// ES512 compact serializations verify with the key pinned to the example's
// alg; 4.4 HS256 is refused (ErrAlgorithm); 4.6–4.8 exist only in JSON
// serialization and are refused (ErrMalformed), as is RFC 7797's b64=false.
func TestJOSECookbook(t *testing.T) {
	dir := filepath.Join(vectorsDir(t), "jose-cookbook")
	type example struct {
		Input struct {
			Payload string          `json:"payload"`
			Key     json.RawMessage `json:"key"`
			Alg     json.RawMessage `json:"alg"`
		} `json:"input"`
		Output map[string]json.RawMessage `json:"output"`
	}
	load := func(t *testing.T, name string) example {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var ex example
		if err := json.Unmarshal(data, &ex); err != nil {
			t.Fatal(err)
		}
		return ex
	}
	compact := func(t *testing.T, ex example) string {
		var s string
		if err := json.Unmarshal(ex.Output["compact"], &s); err != nil || s == "" {
			t.Fatalf("no compact serialization: %v", err)
		}
		return s
	}
	for _, name := range []string{"jws/4_1.rsa_v15_signature.json", "jws/4_2.rsa-pss_signature.json", "jws/4_3.ecdsa_signature.json"} {
		t.Run(name, func(t *testing.T) {
			ex := load(t, name)
			var jwk map[string]any
			if err := json.Unmarshal(ex.Input.Key, &jwk); err != nil {
				t.Fatal(err)
			}
			var alg string
			if err := json.Unmarshal(ex.Input.Alg, &alg); err != nil {
				t.Fatal(err)
			}
			jwk["alg"] = alg
			payload, err := verifyJWS(context.Background(), publicJWKS(t, jwk), compact(t, ex))
			if err != nil {
				t.Fatal(err)
			}
			if string(payload) != ex.Input.Payload {
				t.Fatalf("payload %q", payload)
			}
		})
	}
	t.Run("jws/4_4 HS256", func(t *testing.T) {
		ex := load(t, "jws/4_4.hmac-sha2_integrity_protection.json")
		var jwk map[string]any
		if err := json.Unmarshal(ex.Input.Key, &jwk); err != nil {
			t.Fatal(err)
		}
		_, err := verifyJWS(context.Background(), publicJWKS(t, jwk), compact(t, ex))
		wantErr(t, err, ErrAlgorithm, "")
	})
	for _, name := range []string{"jws/4_6.protecting_specific_header_fields.json", "jws/4_7.protecting_content_only.json", "jws/4_8.multiple_signatures.json"} {
		t.Run(name, func(t *testing.T) {
			ex := load(t, name)
			if _, ok := ex.Output["compact"]; ok {
				t.Fatal("example unexpectedly has a compact serialization")
			}
			n := 0
			for _, form := range []string{"json", "json_flat"} {
				raw, ok := ex.Output[form]
				if !ok {
					continue
				}
				n++
				_, err := verifyJWS(context.Background(), NewStaticKeySet(), string(raw))
				wantErr(t, err, ErrMalformed, "")
			}
			if n == 0 {
				t.Fatal("no JSON serialization in the example")
			}
		})
	}
	t.Run("rfc7797 b64 false", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(dir, "rfc7797", "4.2.hmac-sha2_b64_false.json"))
		if err != nil {
			t.Fatal(err)
		}
		var ex struct {
			Output map[string]json.RawMessage `json:"output"`
		}
		if err := json.Unmarshal(data, &ex); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, raw := range ex.Output {
			n++
			_, err := verifyJWS(context.Background(), keys(t).keySet(), string(raw))
			wantErr(t, err, ErrMalformed, "")
		}
		// The compact form of the example (unencoded payload) is refused,
		// and so is the same header re-signed with an allowed algorithm.
		var flat struct{ Payload, Protected, Signature string }
		if err := json.Unmarshal(ex.Output["json_flat"], &flat); err != nil || flat.Protected == "" {
			t.Fatalf("json_flat: %v", err)
		}
		_, err = verifyJWS(context.Background(), keys(t).keySet(), flat.Protected+"."+flat.Payload+"."+flat.Signature)
		wantErr(t, err, ErrMalformed, "")
		hdr, _ := base64.RawURLEncoding.DecodeString(flat.Protected)
		h := strings.Replace(string(hdr), `"HS256"`, `"RS256","kid":"rsa-1"`, 1)
		if h == string(hdr) {
			t.Fatalf("unexpected header %s", hdr)
		}
		_, err = verifyJWS(context.Background(), keys(t).keySet(), sign(t, keys(t), RS256, h, flat.Payload))
		wantErr(t, err, ErrMalformed, "")
		if n == 0 {
			t.Fatal("no output in the example")
		}
	})
}
