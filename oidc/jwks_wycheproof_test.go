package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

// wycheproofPolicy lists the Wycheproof json_web_key cases whose expected
// result this package deliberately does not share, with the reason. Every
// other case is asserted as labelled.
var wycheproofPolicy = map[int]string{
	2:  "valid HS256 JWS, but HS* is never keyed from a JWKS (CVE-2016-10555): must be rejected",
	13: "valid HS256 JWS with a long key, but oct keys are never loaded: must be rejected",
	14: "valid HS384 JWS with a long key, but oct keys are never loaded: must be rejected",
	15: "valid HS512 JWS with a long key, but oct keys are never loaded: must be rejected",
}

type wycheproofKeyFile struct {
	NumberOfTests int `json:"numberOfTests"`
	TestGroups    []struct {
		Comment string          `json:"comment"`
		Private json.RawMessage `json:"private"`
		Public  json.RawMessage `json:"public"`
		Tests   []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			JWS     string   `json:"jws"`
			Result  string   `json:"result"`
			Flags   []string `json:"flags"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// TestWycheproofJSONWebKey runs every case of Wycheproof's
// json_web_key_test.json: the public key set (or the private one when no
// public set is given) is loaded with ParseJWKS, the JWS's kid is looked up
// in a StaticKeySet built from the loaded keys, and the signature is checked
// with the algorithm pinned to the key. A valid case must verify; an invalid
// one must fail at loading, at the look-up or at the signature.
func TestWycheproofJSONWebKey(t *testing.T) {
	path := filepath.Join(testVectors(t), "wycheproof", "testvectors_v1", "json_web_key_test.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f wycheproofKeyFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	ran, accepted := 0, 0
	for _, g := range f.TestGroups {
		set := g.Public
		if len(set) == 0 {
			set = g.Private
		}
		keys, skipped, loadErr := ParseJWKS(set)

		// Every key of a private set that carries private material is
		// left out for that reason.
		if len(g.Public) != 0 {
			_, privSkipped, _ := ParseJWKS(g.Private)
			for _, s := range privSkipped {
				if r, _ := skipReason(t, s); r != jose.SkipPrivateKey && r != jose.SkipSymmetric {
					// Keys that fail an earlier check (use, alg) are fine.
					if r != jose.SkipNotSigning && r != jose.SkipUnsupported && r != jose.SkipAlgMismatch {
						t.Errorf("group %q: private key skipped as %s", g.Comment, r)
					}
				}
			}
		}

		for _, tc := range g.Tests {
			ran++
			t.Run(strings.ReplaceAll(tc.Comment, " ", "_")+"/"+itoa(tc.TcID), func(t *testing.T) {
				var verr error
				switch {
				case loadErr != nil:
					verr = loadErr
				default:
					verr = checkCompact(NewStaticKeySet(keys...), tc.JWS)
				}
				wantValid := tc.Result == "valid"
				if reason, ok := wycheproofPolicy[tc.TcID]; ok {
					if verr == nil {
						t.Fatalf("tcId %d accepted; policy: %s", tc.TcID, reason)
					}
					return
				}
				switch {
				case wantValid && verr != nil:
					t.Fatalf("tcId %d (%s) valid but rejected: %v (skipped %v)", tc.TcID, tc.Comment, verr, skipped)
				case !wantValid && verr == nil:
					t.Fatalf("tcId %d (%s, flags %v) invalid but accepted", tc.TcID, tc.Comment, tc.Flags)
				}
				if verr == nil {
					accepted++
				}
			})
		}
	}
	if ran != f.NumberOfTests || ran != 26 {
		t.Fatalf("ran %d cases, file says %d", ran, f.NumberOfTests)
	}
	if accepted != 1 {
		t.Fatalf("%d cases accepted, want exactly 1 (tcId 5, the RS256 key)", accepted)
	}
}

// checkCompact looks the JWS's kid up in ks and verifies it with the key.
func checkCompact(ks KeySource, jws string) error {
	hdrB64, _, ok := strings.Cut(jws, ".")
	if !ok {
		return errors.New("no header")
	}
	raw, err := base64.RawURLEncoding.DecodeString(hdrB64)
	if err != nil {
		return err
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return err
	}
	k, err := ks.Key(context.Background(), hdr.Kid)
	if err != nil {
		return err
	}
	return verifyWithKey(k, jws)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for ; i > 0; i /= 10 {
		n--
		b[n] = byte('0' + i%10)
	}
	return string(b[n:])
}
