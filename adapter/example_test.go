package adapter_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// The quick start: verify Keycloak tokens locally, refuse revoked ones,
// require a client role on one route, and accept Keycloak's back-channel
// logout. One process; for replicas pass a Redis store as Config.Store.
func Example() {
	issuer := oidc.KeycloakIssuer("https://sso.example.com", "acme")
	keys, err := oidc.NewRemoteKeySet(oidc.KeySetConfig{URL: issuer + "/protocol/openid-connect/certs"})
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	verifier, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: issuer, Keys: keys, Audience: []string{"backend"}})
	if err != nil {
		log.Fatal(err)
	}
	auth, err := adapter.New(adapter.Config{Verifier: verifier})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	bcl, _ := adapter.BackchannelLogoutHandler(adapter.BackchannelLogoutConfig{Verifier: verifier, Store: auth.Store()})

	mux := http.NewServeMux()
	mux.Handle("/orders", auth.Middleware(auth.Require(adapter.RequireClientRole("backend", "reader"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, _ := adapter.FromContext(r.Context())
			fmt.Fprintln(w, "hello", claims.PreferredUsername)
		}))))
	mux.Handle("POST /backchannel-logout", bcl)
	_ = mux // http.ListenAndServe(":8081", mux)
}

// A request without credentials gets a bare challenge; the handler never
// runs.
func ExampleAuthenticator_Middleware() {
	auth, err := adapter.New(adapter.Config{Verifier: nopVerifier{}})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	h := auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/orders", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))

	rec = httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("Authorization", "Bearer a b")
	h.ServeHTTP(rec, r)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output:
	// 401 Bearer realm="api"
	// 400 Bearer realm="api", error="invalid_request", error_description="malformed authorization"
}

// Guards compose; a refusal names the missing scope.
func ExampleAny() {
	q := adapter.Any(adapter.RequireRealmRole("admin"), adapter.RequireScope("orders:write"))
	c := &oidc.Claims{Scope: "openid orders:read", RealmRoles: []string{"user"}}
	fmt.Println(q.Allow(c))
	c.Scope += " orders:write"
	fmt.Println(q.Allow(c))
	// Output:
	// false
	// true
}

type nopVerifier struct{}

func (nopVerifier) Verify(context.Context, string) (*oidc.Claims, error) {
	return nil, &oidc.ValidationError{Kind: oidc.ErrMalformed}
}
