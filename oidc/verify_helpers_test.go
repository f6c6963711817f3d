package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testIssuer = "https://kc.example.test/realms/tokenwarden"
	testKID    = "rsa-1"
)

// testNow is the fixed clock of the unit tests.
var testNow = time.Unix(1_800_000_000, 0)

type testKeys struct {
	rsa   *rsa.PrivateKey
	rsa2  *rsa.PrivateKey
	ec256 *ecdsa.PrivateKey
	ec521 *ecdsa.PrivateKey
	ed    ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keysVal  testKeys
)

func keys(t testing.TB) *testKeys {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if keysVal.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keysVal.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keysVal.ec256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if keysVal.ec521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader); err != nil {
			panic(err)
		}
		if _, keysVal.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
	return &keysVal
}

// keySet returns the static key set used by the unit tests.
func (k *testKeys) keySet() *StaticKeySet {
	return NewStaticKeySet(
		&Key{ID: testKID, Algorithm: RS256, Public: &k.rsa.PublicKey},
		&Key{ID: "rsa-ps", Algorithm: PS256, Public: &k.rsa.PublicKey},
		&Key{ID: "ec-1", Algorithm: ES256, Public: &k.ec256.PublicKey},
		&Key{ID: "ec-521", Algorithm: ES512, Public: &k.ec521.PublicKey},
		&Key{ID: "ed-1", Algorithm: EdDSA, Public: k.ed.Public()},
	)
}

func enc64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// sign produces a compact JWS over the given header and payload JSON texts
// with the algorithm named in alg.
func sign(t testing.TB, k *testKeys, alg, headerJSON, payloadJSON string) string {
	t.Helper()
	input := enc64(headerJSON) + "." + enc64(payloadJSON)
	return input + "." + base64.RawURLEncoding.EncodeToString(rawSign(t, k, alg, []byte(input)))
}

func rawSign(t testing.TB, k *testKeys, alg string, input []byte) []byte {
	t.Helper()
	hashOf := func(h crypto.Hash) []byte {
		switch h {
		case crypto.SHA384:
			s := sha512.Sum384(input)
			return s[:]
		case crypto.SHA512:
			s := sha512.Sum512(input)
			return s[:]
		}
		s := sha256.Sum256(input)
		return s[:]
	}
	var sig []byte
	var err error
	switch alg {
	case RS256:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.rsa, crypto.SHA256, hashOf(crypto.SHA256))
	case PS256:
		sig, err = rsa.SignPSS(rand.Reader, k.rsa, crypto.SHA256, hashOf(crypto.SHA256), &rsa.PSSOptions{SaltLength: 32})
	case ES256, ES512:
		priv, size, h := k.ec256, 32, crypto.SHA256
		if alg == ES512 {
			priv, size, h = k.ec521, 66, crypto.SHA512
		}
		r, s, e := ecdsa.Sign(rand.Reader, priv, hashOf(h))
		err = e
		sig = make([]byte, 2*size)
		r.FillBytes(sig[:size])
		s.FillBytes(sig[size:])
	case EdDSA:
		sig = ed25519.Sign(k.ed, input)
	default:
		t.Fatalf("sign: unsupported alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// claimsJSON returns a Keycloak-shaped access-token payload with overrides
// applied (a nil value deletes the member).
func claimsJSON(t testing.TB, over map[string]any) string {
	t.Helper()
	m := map[string]any{
		"exp":                testNow.Unix() + 300,
		"iat":                testNow.Unix() - 10,
		"auth_time":          testNow.Unix() - 20,
		"jti":                "onrtac:5b0f5c4e-1f5d-4a3b-9a55-1c1f1e0d7f11",
		"iss":                testIssuer,
		"aud":                []string{"backend", "account"},
		"sub":                "8d1f0c77-2b51-4d6e-9a3c-5f5e8c2a1b90",
		"typ":                "Bearer",
		"azp":                "mobile",
		"sid":                "0b6d1b9e-7c1e-4b39-a7d8-3a4f0e7c9d21",
		"acr":                "1",
		"allowed-origins":    []string{"capacitor://localhost", "https://localhost"},
		"realm_access":       map[string]any{"roles": []string{"offline_access", "uma_authorization", "user", "default-roles-tokenwarden"}},
		"resource_access":    map[string]any{"backend": map[string]any{"roles": []string{"reader", "writer"}}, "account": map[string]any{"roles": []string{"manage-account", "manage-account-links", "view-profile"}}},
		"scope":              "openid profile email",
		"email_verified":     true,
		"name":               "Bob Builder",
		"preferred_username": "bob",
		"given_name":         "Bob",
		"family_name":        "Builder",
		"email":              "bob@example.test",
	}
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const rsHeader = `{"alg":"RS256","typ":"JWT","kid":"rsa-1"}`

// accessToken returns a valid RS256 Keycloak access token with overrides.
func accessToken(t testing.TB, over map[string]any) string {
	t.Helper()
	return sign(t, keys(t), RS256, rsHeader, claimsJSON(t, over))
}

func newTestVerifier(t testing.TB, mut func(*VerifierConfig)) *Verifier {
	t.Helper()
	cfg := VerifierConfig{
		Issuer:            testIssuer,
		Keys:              keys(t).keySet(),
		Audience:          []string{"backend"},
		AuthorizedParties: []string{"mobile"},
		Algorithms:        []string{RS256, PS256, ES256, ES512, EdDSA},
		Now:               func() time.Time { return testNow },
		Cache:             CacheConfig{Disabled: true},
	}
	if mut != nil {
		mut(&cfg)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// countingKeys counts lookups and answers unknown kids with ErrUnknownKey.
type countingKeys struct {
	inner KeySource
	mu    sync.Mutex
	calls int
}

func (c *countingKeys) Key(ctx context.Context, kid string) (*Key, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.inner.Key(ctx, kid)
}

// wantErr fails unless err wraps want (nil: err must be nil), and checks
// that no error message contains token text.
func wantErr(t testing.TB, err, want error, token string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	msg := err.Error()
	for _, seg := range strings.Split(token, ".") {
		if len(seg) >= 16 && strings.Contains(msg, seg[:16]) {
			t.Fatalf("error message contains token text: %q", msg)
		}
	}
}
