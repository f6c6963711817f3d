package introspect_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/oidc"
)

func Example() {
	// A stand-in for Keycloak's introspection endpoint.
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active":false}`)
	}))
	defer as.Close()

	client, err := introspect.New(introspect.Config{
		IntrospectionURL: as.URL + "/realms/demo/protocol/openid-connect/token/introspect",
		RevocationURL:    as.URL + "/realms/demo/protocol/openid-connect/revoke",
		ClientID:         "backend",
		ClientSecret:     "backend-secret",
		Issuer:           "https://sso.example.com/realms/demo",
	})
	if err != nil {
		panic(err)
	}
	cache, err := introspect.NewCache(client, introspect.CacheConfig{})
	if err != nil {
		panic(err)
	}
	defer cache.Close()

	for range 2 {
		_, err := cache.Introspect(context.Background(), "eyJhbGciOi...", introspect.HintAccessToken)
		fmt.Println(errors.Is(err, introspect.ErrInactive))
	}
	// Output:
	// true
	// true
}

// A middleware decides between 401 and 503 with errors.Is, and reads the
// authorization server's error with errors.As.
func Example_errors() {
	answers := map[string]func(http.ResponseWriter){
		"/down": func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) },
		"/auth": func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"unauthorized_client","error_description":"Invalid client credentials"}`)
		},
	}
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answers[r.URL.Path](w)
	}))
	defer as.Close()

	for _, path := range []string{"/down", "/auth"} {
		client, _ := introspect.New(introspect.Config{
			IntrospectionURL: as.URL + path,
			ClientID:         "backend",
			ClientSecret:     "wrong",
			Issuer:           "https://sso.example.com/realms/demo",
		})
		_, err := client.Introspect(context.Background(), "eyJhbGciOi...", "")

		var e *introspect.Error
		switch {
		case errors.Is(err, introspect.ErrUnavailable):
			fmt.Println("503: authorization server unavailable")
		case errors.As(err, &e):
			fmt.Printf("%d %s client-auth=%v\n", e.Status, e.Code, errors.Is(err, introspect.ErrClientAuth))
		}
	}
	// Output:
	// 503: authorization server unavailable
	// 401 unauthorized_client client-auth=true
}

// Revoke treats Keycloak's 200 {"error":"invalid_token"} (the token was
// already invalid) as success, as RFC 7009 §2.2 prescribes.
func ExampleClient_Revoke() {
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"error":"invalid_token","error_description":"Invalid token"}`)
	}))
	defer as.Close()

	// A public client may revoke its own tokens with client_id only.
	mobile, err := introspect.New(introspect.Config{RevocationURL: as.URL + "/revoke", ClientID: "mobile"})
	if err != nil {
		panic(err)
	}
	fmt.Println(mobile.AuthMethod(), mobile.Revoke(context.Background(), "refresh-token", introspect.HintRefreshToken))
	// Output: none <nil>
}

// With discovery, the endpoints and the issuer come from the provider's
// metadata; the authentication method follows the credentials given.
func ExampleConfigFromDiscovery() {
	// Normally from oidc.Discover; a literal keeps the example offline.
	d := &oidc.Discovery{
		Issuer:                "https://sso.example.com/realms/demo",
		IntrospectionEndpoint: "https://sso.example.com/realms/demo/protocol/openid-connect/token/introspect",
		RevocationEndpoint:    "https://sso.example.com/realms/demo/protocol/openid-connect/revoke",
	}
	backend, err := introspect.New(introspect.ConfigFromDiscovery(d, introspect.Config{
		ClientID: "backend", ClientSecret: "backend-secret",
	}))
	if err != nil {
		panic(err)
	}
	mobile, err := introspect.New(introspect.ConfigFromDiscovery(d, introspect.Config{ClientID: "mobile"}))
	if err != nil {
		panic(err)
	}
	fmt.Println(backend.AuthMethod(), mobile.AuthMethod())
	// Output: client_secret_basic none
}
