package adapter_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/tokenwarden/tokenwarden/adapter"
)

// The quick start, as README.md shows it (TestReadmeQuickStart keeps the
// two the same): one value from the issuer URL and the client ids verifies
// Keycloak tokens locally, refuses revoked ones from memory, and serves the
// app's logout, Keycloak's back-channel logout and the Keycloak admin URL.
// One process; for replicas pass a Redis store as Config.Store.
func Example() {
	auth, err := adapter.New(context.Background(), adapter.Config{
		Issuer:   "https://sso.example.com/realms/acme", // discovery, keys, verifier
		Audience: "backend",                             // the API's client id: aud must contain it
		Clients:  []string{"mobile"},                    // the app's client: logout tokens, refresh tokens
	})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /api/profile", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := adapter.FromContext(r.Context())
		fmt.Fprintln(w, "hello", claims.PreferredUsername)
	})))
	mux.Handle("POST /auth/logout", auth.LogoutHandler())
	mux.Handle("POST /auth/backchannel-logout", auth.BackchannelLogoutHandler())
	mux.Handle("POST /auth/keycloak/", auth.KeycloakAdminHandler())
	log.Fatal(http.ListenAndServe(":8081", mux))
}
