// Package testtoken signs Keycloak-shaped access tokens with a local RSA key
// and verifies them with a static key set, for the examples' unit tests.
package testtoken

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tokenwarden/tokenwarden/oidc"
)

// Issuer is a local token issuer.
const Issuer = "https://sso.example.com/realms/acme"

// Audience is the audience of the tokens and of the verifier.
const Audience = "backend"

// Signer signs tokens; Verifier accepts them.
type Signer struct {
	key      *rsa.PrivateKey
	signer   jose.Signer
	Verifier *oidc.Verifier
}

// New returns a Signer with a fresh 2048-bit key.
func New(t testing.TB) *Signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "test-key"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: Issuer, Audience: []string{Audience},
		Keys: oidc.NewStaticKeySet(&oidc.Key{ID: "test-key", Algorithm: oidc.RS256, Public: &key.PublicKey})})
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{key: key, signer: sig, Verifier: v}
}

// Token returns a signed access token for username with the realm roles,
// valid for five minutes. extra claims are merged in (and may replace the
// defaults).
func (s *Signer) Token(t testing.TB, username string, roles []string, extra map[string]any) string {
	t.Helper()
	now := time.Now()
	c := map[string]any{
		"iss": Issuer, "aud": Audience, "sub": "sub-" + username, "typ": "Bearer", "azp": "mobile",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "jti-" + username + "-" + now.Format("150405.000000000"),
		"sid": "sid-" + username, "preferred_username": username, "scope": "openid profile",
		"realm_access": map[string]any{"roles": roles},
	}
	for k, v := range extra {
		c[k] = v
	}
	tok, err := jwt.Signed(s.signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
