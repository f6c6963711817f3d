package oidc

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite the seed corpora under testdata/fuzz")

// fuzzKey is a fixed Ed25519 key, so that seed tokens in testdata stay valid.
func fuzzKey() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "tokenwarden fuzz seed key 000001")
	return ed25519.NewKeyFromSeed(seed)
}

func fuzzVerifier(t testing.TB) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{
		Issuer:            testIssuer,
		Keys:              NewStaticKeySet(&Key{ID: "fz", Algorithm: EdDSA, Public: fuzzKey().Public()}),
		Audience:          []string{"backend"},
		AuthorizedParties: []string{"mobile"},
		Algorithms:        []string{EdDSA},
		Now:               func() time.Time { return testNow },
		Cache:             CacheConfig{MaxEntries: 64},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const fuzzHeader = `{"alg":"EdDSA","kid":"fz","typ":"JWT"}`

func fuzzSign(header, payload string) string {
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(fuzzKey(), []byte(input)))
}

var sentinels = []error{ErrMalformed, ErrAlgorithm, ErrBadSignature, ErrExpired, ErrNotYetValid,
	ErrWrongIssuer, ErrWrongAudience, ErrWrongType, ErrUnknownKey}

func checkCategorised(t *testing.T, err error) {
	t.Helper()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error without a category: %v", err)
}

// canonical reports whether every segment re-encodes to itself.
func canonical(tok string) bool {
	for _, seg := range strings.Split(tok, ".") {
		b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
		if err != nil || base64.RawURLEncoding.EncodeToString(b) != seg {
			return false
		}
	}
	return true
}

func accessPayloads(t testing.TB) []string {
	return []string{
		claimsJSON(t, nil),
		claimsJSON(t, map[string]any{"aud": "backend", "typ": "DPoP", "cnf": map[string]any{"jkt": "x"}}),
		claimsJSON(t, map[string]any{"typ": "ID"}),
		`{"iss":"` + testIssuer + `","typ":"Bearer","azp":"mobile","exp":1800000300,"iat":1799999990}`,
	}
}

func FuzzParseCompact(f *testing.F) {
	for _, p := range accessPayloads(f) {
		f.Add(fuzzSign(fuzzHeader, p))
	}
	f.Add(fuzzSign(`{"alg":"EdDSA","kid":"fz","crit":[]}`, claimsJSON(f, nil)))
	f.Add("e30.e30.AA")
	v := fuzzVerifier(f)
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			checkCategorised(t, err)
			if c != nil {
				t.Fatal("claims with an error")
			}
			return
		}
		if !canonical(tok) || strings.Count(tok, ".") != 2 {
			t.Fatalf("accepted a non-canonical token")
		}
		if c.Issuer != testIssuer || (c.Type != "Bearer" && c.Type != "DPoP") || !c.Expiry.After(testNow.Add(-defaultLeeway)) {
			t.Fatalf("accepted claims that break the rules: %+v", c)
		}
		// A cached answer is the same as the first.
		if c2, err := v.Verify(context.Background(), tok); err != nil || c2 != c {
			t.Fatalf("second verification differs: %v", err)
		}
	})
}

func FuzzParseClaims(f *testing.F) {
	for _, p := range accessPayloads(f) {
		f.Add([]byte(p))
	}
	f.Add([]byte(`{"active":true,"username":"a","aud":["x"],"exp":1}`))
	f.Add([]byte(`{"a":{"b":[1,2.5e-3,"\ud83d\ude00",null]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseClaims(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error without ErrMalformed: %v", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("encoding/json disagrees: %v", err)
		}
		for name, got := range map[string]string{"iss": c.Issuer, "sub": c.Subject, "jti": c.ID, "sid": c.SessionID,
			"azp": c.AuthorizedParty, "typ": c.Type, "scope": c.Scope, "client_id": c.ClientID} {
			want, _ := m[name].(string)
			if got != want {
				t.Fatalf("%s: strict decoder %q, encoding/json %q", name, got, want)
			}
		}
		if c.Raw != string(data) {
			t.Fatal("Raw differs from the input")
		}
	})
}

func FuzzLogoutToken(f *testing.F) {
	f.Add(fuzzHeader, logoutJSON(f, nil))
	f.Add(`{"alg":"EdDSA","kid":"fz","typ":"logout+jwt"}`, logoutJSON(f, nil))
	f.Add(`{"alg":"EdDSA","kid":"fz","typ":"logout+jwt"}`, logoutJSON(f, map[string]any{"sid": nil, "nonce": "x"}))
	f.Add(`{"alg":"none","typ":"logout+jwt"}`, `{}`)
	v := fuzzVerifier(f)
	f.Fuzz(func(t *testing.T, header, payload string) {
		lc, err := v.VerifyLogoutToken(context.Background(), fuzzSign(header, payload))
		if err != nil {
			checkCategorised(t, err)
			return
		}
		if lc.Issuer != testIssuer || lc.ID == "" || (lc.Subject == "" && lc.SessionID == "") || lc.IssuedAt.IsZero() || lc.Expiry.IsZero() {
			t.Fatalf("accepted an incomplete logout token: %+v", lc)
		}
		if strings.Contains(payload, `"nonce"`) && !strings.Contains(payload, `\`) {
			var m map[string]any
			if json.Unmarshal([]byte(payload), &m) == nil && m["nonce"] != nil {
				t.Fatal("accepted a logout token with a nonce")
			}
		}
	})
}

func FuzzAdminAction(f *testing.F) {
	f.Add(`{"alg":"EdDSA","kid":"fz"}`, adminJSON(f, nil))
	f.Add(`{"alg":"EdDSA","kid":"fz"}`, adminJSON(f, map[string]any{"action": AdminActionPushNotBefore}))
	f.Add(`{"alg":"EdDSA","kid":"fz","typ":"JWT"}`, `{"action":"LOGOUT","resource":"backend","expiration":1800000010}`)
	v := fuzzVerifier(f)
	f.Fuzz(func(t *testing.T, header, payload string) {
		act, err := v.VerifyAdminAction(context.Background(), fuzzSign(header, payload))
		if err != nil {
			checkCategorised(t, err)
			return
		}
		switch act.Action {
		case AdminActionLogout, AdminActionPushNotBefore, AdminActionTestAvailable:
		default:
			t.Fatalf("accepted action %q", act.Action)
		}
		if act.Resource != "backend" && act.Resource != "mobile" {
			t.Fatalf("accepted resource %q", act.Resource)
		}
		if !testNow.Before(act.Expiration.Add(defaultLeeway)) {
			t.Fatal("accepted an expired admin message")
		}
	})
}

// TestFuzzSeedCorpora checks that every fuzz target has a seed corpus in
// testdata/fuzz and that its valid seeds still verify; -update-fuzz-seeds
// rewrites them.
func TestFuzzSeedCorpora(t *testing.T) {
	str := func(s string) string { return fmt.Sprintf("string(%q)\n", s) }
	seeds := map[string]map[string]string{
		"FuzzParseCompact": {
			"valid":        str(fuzzSign(fuzzHeader, claimsJSON(t, nil))),
			"id-token":     str(fuzzSign(fuzzHeader, claimsJSON(t, map[string]any{"typ": "ID"}))),
			"crit-empty":   str(fuzzSign(`{"alg":"EdDSA","kid":"fz","crit":[]}`, claimsJSON(t, nil))),
			"alg-none":     str(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + ".e30."),
			"dup-claim":    str(fuzzSign(fuzzHeader, `{"aud":"backend","AUD":"x"}`)),
			"float-exp":    str(fuzzSign(fuzzHeader, `{"exp":1.8e9}`)),
			"json-serial":  str(`{"payload":"e30","protected":"e30","signature":"AA"}`),
			"many-dots":    str(strings.Repeat(".", 64)),
			"deep-nesting": str(fuzzSign(fuzzHeader, `{"x":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}`)),
		},
		"FuzzParseClaims": {
			"keycloak":      fmt.Sprintf("[]byte(%q)\n", claimsJSON(t, nil)),
			"introspection": fmt.Sprintf("[]byte(%q)\n", `{"active":true,"token_type":"Bearer","username":"alice","exp":1800000300}`),
			"escapes":       fmt.Sprintf("[]byte(%q)\n", `{"sub":"\u00e9\ud83d\ude00\n","\u0061ud":["x"]}`),
			"surrogate":     fmt.Sprintf("[]byte(%q)\n", `{"sub":"\ud800"}`),
		},
		"FuzzLogoutToken": {
			"keycloak": str(`{"alg":"EdDSA","kid":"fz","typ":"logout+jwt"}`) + str(logoutJSON(t, nil)),
			"nonce":    str(`{"alg":"EdDSA","kid":"fz","typ":"logout+jwt"}`) + str(logoutJSON(t, map[string]any{"nonce": "n"})),
			"no-typ":   str(`{"alg":"EdDSA","kid":"fz"}`) + str(logoutJSON(t, nil)),
		},
		"FuzzAdminAction": {
			"logout":          str(`{"alg":"EdDSA","kid":"fz"}`) + str(adminJSON(t, nil)),
			"push-not-before": str(`{"alg":"EdDSA","kid":"fz"}`) + str(adminJSON(t, map[string]any{"action": AdminActionPushNotBefore})),
			"bad-action":      str(`{"alg":"EdDSA","kid":"fz"}`) + str(adminJSON(t, map[string]any{"action": "X"})),
		},
	}
	for target, files := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, body := range files {
			path := filepath.Join(dir, name)
			want := "go test fuzz v1\n" + body
			if *updateSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("missing seed %s (run go test -run TestFuzzSeedCorpora -update-fuzz-seeds ./oidc)", path)
			}
			if string(got) != want {
				t.Fatalf("seed %s is stale (run go test -run TestFuzzSeedCorpora -update-fuzz-seeds ./oidc)", path)
			}
		}
	}
	v := fuzzVerifier(t)
	if _, err := v.Verify(context.Background(), fuzzSign(fuzzHeader, claimsJSON(t, nil))); err != nil {
		t.Fatalf("valid seed does not verify: %v", err)
	}
}
