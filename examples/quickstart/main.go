// Command quickstart is the README's quick start: a net/http API that trusts
// the tokenwarden realm's access tokens and honours Keycloak's back-channel
// logout. quickstart_test.go checks that README.md shows newHandler exactly as
// it is here, and runs it against the real Keycloak.
package main

import (
	"fmt"
	"log"
	"net/http"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/oidc"
)

func main() {
	h, closeAll, err := newHandler("http://127.0.0.1:8080", "tokenwarden")
	if err != nil {
		log.Fatal(err)
	}
	defer closeAll()
	log.Fatal(http.ListenAndServe("127.0.0.1:8081", h))
}

// quick start begin
func newHandler(keycloakURL, realm string) (http.Handler, func(), error) {
	issuer := oidc.KeycloakIssuer(keycloakURL, realm)
	keys, err := oidc.NewRemoteKeySet(oidc.KeySetConfig{URL: issuer + "/protocol/openid-connect/certs",
		InsecureAllowHTTP: true}) // a development Keycloak on http://127.0.0.1
	if err != nil {
		return nil, nil, err
	}
	verifier, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: issuer, Keys: keys,
		Audience: []string{"backend"}, Logout: oidc.LogoutTokenConfig{Audience: []string{"mobile"}}})
	if err != nil {
		return nil, nil, err
	}
	auth, _ := adapter.New(adapter.Config{Verifier: verifier}) // in-memory deny-list; Store: Redis for replicas
	logout, _ := adapter.BackchannelLogoutHandler(adapter.BackchannelLogoutConfig{Verifier: verifier, Store: auth.Store()})

	mux := http.NewServeMux()
	mux.Handle("GET /api/profile", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := adapter.FromContext(r.Context())
		fmt.Fprintln(w, "hello", claims.PreferredUsername, claims.RealmRoles)
	})))
	mux.Handle("GET /api/admin/report", auth.Middleware(auth.Require(adapter.RequireRealmRole("admin"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "report") }))))
	mux.Handle("POST /auth/backchannel-logout", logout) // Keycloak's mobile client posts logout tokens here
	return mux, func() { auth.Close(); keys.Close() }, nil
}

// quick start end
