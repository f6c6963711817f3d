package dpop

import (
	"context"
	"crypto"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/tokenwarden/tokenwarden/internal/jose"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
)

// TestWycheproofKeysInProof puts every key of Wycheproof's
// json_web_key_test.json (public and private sets) into a proof's jwk
// header, with the key's alg when it names one. Only the valid public
// RSA key (tcId 5's) passes, signed by its private key. Every key of a
// public set of an invalid case, and every key with private or secret
// material, is refused at the alg or jwk check, before any signature is
// checked: private members, symmetric keys, 1024-bit RSA, exponent 1, the
// ROCA modulus, a modified (off-curve) EC point, a P-256 point labelled
// P-384 or RSA, alg and curve mismatches, encryption keys. The public
// keys that private sets also list fail at the signature (the proof is
// signed by another key).
func TestWycheproofKeysInProof(t *testing.T) {
	path := filepath.Join(testenv.Vectors(t), "wycheproof", "testvectors_v1", "json_web_key_test.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		TestGroups []struct {
			Private, Public json.RawMessage
			Tests           []struct{ TcID int }
		}
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	testKeys(t)
	f := newFixture(t, Config{})
	accepted, refused := 0, 0
	for _, g := range file.TestGroups {
		var privs struct{ Keys []json.RawMessage }
		_ = json.Unmarshal(g.Private, &privs)
		var pubs struct{ Keys []json.RawMessage }
		_ = json.Unmarshal(g.Public, &pubs)
		tc := g.Tests[0].TcID
		for i, raw := range append(append([]json.RawMessage{}, pubs.Keys...), privs.Keys...) {
			public := i < len(pubs.Keys)
			name := "tcId" + strconv.Itoa(tc) + "/key" + strconv.Itoa(i)
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			alg, _ := m["alg"].(string)
			if alg == "" {
				alg = map[string]string{"RSA": "RS256", "EC": "ES256", "OKP": "EdDSA", "oct": "HS256"}[m["kty"].(string)]
			}
			// Signed by the matching private key when the group has one
			// that go-jose can read, else by an unrelated key.
			var signer crypto.Signer = ecP256
			if len(privs.Keys) > i%max(len(privs.Keys), 1) {
				var jwk gojose.JSONWebKey
				if err := jwk.UnmarshalJSON(privs.Keys[i%len(privs.Keys)]); err == nil {
					if s, ok := jwk.Key.(crypto.Signer); ok {
						signer = s
					}
				}
			}
			header := `{"typ":"dpop+jwt","alg":` + mustJSON(t, alg) + `,"jwk":` + string(raw) + `}`
			p := f.parts()
			var proof string
			switch jose.ParseAlg(alg) {
			case jose.RS256, jose.PS256, jose.ES256, jose.EdDSA:
				proof = signJWS(t, alg, signerFor(alg, signer), header, mustJSON(t, p.claims))
			default:
				proof = signJWS(t, "ES256", ecP256, header, mustJSON(t, p.claims))
			}
			jkt := ""
			if k, err := jose.ParseJWK(string(raw), jose.Policy{}); err == nil {
				jkt, _ = jose.Thumbprint(k.Public)
			}
			_, err := f.v.Verify(context.Background(), request("GET", testURL, proof), testToken, jkt)
			if tc == 5 && public {
				if err != nil {
					t.Errorf("%s: the valid RSA key refused: %v", name, err)
				}
				accepted++
				continue
			}
			e, ok := err.(*Error)
			_, private := m["d"]
			_, secret := m["k"]
			switch {
			case !ok || e.Code != codeInvalidProof:
				t.Errorf("%s (%s): %v, want a refusal", name, alg, err)
			case (public || private || secret) && e.Check != "jwk" && e.Check != "alg":
				t.Errorf("%s (%s): refused at %s, want at alg or jwk", name, alg, e.Check)
			default:
				refused++
			}
		}
	}
	t.Logf("%d accepted, %d refused", accepted, refused)
	if accepted != 1 || refused < 30 {
		t.Fatalf("%d accepted, %d refused", accepted, refused)
	}
}

// signerFor returns s when it can sign alg, else the test key of alg.
func signerFor(alg string, s crypto.Signer) crypto.Signer {
	switch alg {
	case "RS256", "PS256":
		if _, ok := s.Public().(interface{ Size() int }); ok {
			return s
		}
		return rsa2048
	case "EdDSA":
		return edKey
	}
	if alg == "ES256" {
		return ecP256
	}
	return s
}
