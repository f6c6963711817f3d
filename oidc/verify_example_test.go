package oidc_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/tokenwarden/tokenwarden/oidc"
)

// signExample signs a compact JWS for the example (an identity provider's job).
func signExample(priv ed25519.PrivateKey, header, payload string) string {
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(input)))
}

// Verify an access token and branch on the failure category with errors.Is;
// errors.As reaches the explanation an operator needs: the check that
// failed, the value expected and the value presented (never token text).
// In production Keys is a RemoteKeySet on the realm's jwks_uri.
func ExampleVerifier_Verify() {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	now := time.Unix(1_800_000_000, 0)
	v, err := oidc.NewVerifier(oidc.VerifierConfig{
		Issuer:            "https://sso.example.com/realms/shop",
		Keys:              oidc.NewStaticKeySet(&oidc.Key{ID: "k1", Algorithm: oidc.EdDSA, Public: priv.Public()}),
		Audience:          []string{"orders-api"},
		AuthorizedParties: []string{"mobile"},
		Algorithms:        []string{oidc.EdDSA},
		Now:               func() time.Time { return now },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	header := `{"alg":"EdDSA","typ":"JWT","kid":"k1"}`
	claims := `{"iss":"https://sso.example.com/realms/shop","aud":"account","azp":"mobile","typ":"Bearer",` +
		`"sub":"u-42","iat":1799999990,"exp":%d,"realm_access":{"roles":["user"]},` +
		`"resource_access":{"orders-api":{"roles":["reader"]}},"scope":"openid email"}`

	for _, token := range []string{
		signExample(priv, header, fmt.Sprintf(claims, 1800000300)),
		signExample(priv, header, fmt.Sprintf(claims, 1799999000)), // expired
		signExample(priv, `{"alg":"none"}`, fmt.Sprintf(claims, 1800000300)),
	} {
		c, err := v.Verify(context.Background(), token)
		switch {
		case err == nil:
			fmt.Println("subject:", c.Subject, "reader:", c.HasClientRole("orders-api", "reader"), "email scope:", c.HasScope("email"))
		case errors.Is(err, oidc.ErrExpired):
			var ve *oidc.ValidationError
			errors.As(err, &ve)
			fmt.Println("401 invalid_token: expired;", ve.Check, "expected", ve.Expected, "presented", ve.Presented)
		case errors.Is(err, oidc.ErrAlgorithm):
			fmt.Println("401 invalid_token:", err)
		default:
			fmt.Println("401 invalid_token")
		}
	}
	// Output:
	// subject: u-42 reader: true email scope: true
	// 401 invalid_token: expired; exp expected later than 2027-01-15T07:59:30Z (now 2027-01-15T08:00:00Z - leeway 30s) presented 2027-01-15T07:43:20Z
	// 401 invalid_token: oidc: disallowed signing algorithm: alg expected one of ["EdDSA"], presented "none"
}
