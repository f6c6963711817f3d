package oidc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tokenwarden/tokenwarden/oidc"
)

func ExampleKeycloakIssuer() {
	fmt.Println(oidc.KeycloakIssuer("https://sso.example.com/", "acme"))
	// Output: https://sso.example.com/realms/acme
}

// A JWKS like Keycloak's: one signing key and one encryption key. The
// encryption key is skipped, not the whole set.
func ExampleParseJWKS() {
	jwks := []byte(`{"keys":[
	 {"kid":"enc-1","kty":"RSA","use":"enc","alg":"RSA-OAEP","n":"0vx7","e":"AQAB"},
	 {"kid":"sig-1","kty":"EC","use":"sig","crv":"P-256",
	  "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`)
	keys, skipped, err := oidc.ParseJWKS(jwks)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, k := range keys {
		fmt.Println("key", k.ID, k.Algorithm)
	}
	for _, s := range skipped {
		fmt.Println(s)
	}
	// Output:
	// key sig-1 ES256
	// oidc: jwks key 0 (kid "enc-1") skipped: not a signing key: use "enc"
}

func ExampleRemoteKeySet() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"keys":[{"kid":"sig-1","kty":"EC","crv":"P-256",
		  "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`))
	}))
	defer srv.Close()

	ks, err := oidc.NewRemoteKeySet(oidc.KeySetConfig{
		URL:               srv.URL,
		InsecureAllowHTTP: true, // httptest serves plain http; never in production
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ks.Close()

	ctx := context.Background()
	k, err := ks.Key(ctx, "sig-1")
	fmt.Println(k.Algorithm, err)

	_, err = ks.Key(ctx, "attacker-chosen")
	fmt.Println(errors.Is(err, oidc.ErrUnknownKey))
	// Output:
	// ES256 <nil>
	// true
}

func ExampleDiscover() {
	// Inside a Docker network: tokens say http://localhost:8080/realms/acme,
	// this process reaches Keycloak as http://keycloak:8080.
	cfg := oidc.DiscoveryConfig{
		Issuer:            oidc.KeycloakIssuer("http://localhost:8080", "acme"),
		InternalURL:       "http://keycloak:8080",
		InsecureAllowHTTP: true, // development only
	}
	d, err := oidc.Discover(context.Background(), cfg)
	if err != nil {
		return // wraps ErrDiscovery; the text says what failed
	}
	keys, err := d.NewRemoteKeySet(oidc.KeySetConfig{})
	if err != nil {
		return
	}
	defer keys.Close()
	fmt.Println(d.IntrospectionEndpoint, d.RevocationEndpoint, d.BackchannelLogoutSupported)
}
