// Command quickstart is the README's quick start (the adapter package's
// Example) against the development Keycloak on http://127.0.0.1:8080: one
// adapter.New from the issuer URL and the client ids, the middleware on the
// API's routes, and the logout, back-channel logout and Keycloak admin
// handlers. quickstart_test.go runs it against the real Keycloak.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/tokenwarden/tokenwarden/adapter"
)

func main() {
	h, closeAll, err := newHandler(context.Background(), "http://127.0.0.1:8080/realms/tokenwarden")
	if err != nil {
		log.Fatal(err)
	}
	defer closeAll()
	log.Fatal(http.ListenAndServe("127.0.0.1:8081", h))
}

func newHandler(ctx context.Context, issuer string) (http.Handler, func() error, error) {
	auth, err := adapter.New(ctx, adapter.Config{
		Issuer:            issuer,
		Audience:          "backend",
		Clients:           []string{"mobile"},
		InsecureAllowHTTP: true, // a development Keycloak on http://127.0.0.1
	})
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/profile", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := adapter.FromContext(r.Context())
		fmt.Fprintln(w, "hello", claims.PreferredUsername, claims.RealmRoles)
	})))
	mux.Handle("GET /api/admin/report", auth.Middleware(auth.Require(adapter.RequireRealmRole("admin"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "report") }))))
	mux.Handle("POST /auth/logout", auth.LogoutHandler())
	mux.Handle("POST /auth/backchannel-logout", auth.BackchannelLogoutHandler())
	mux.Handle("POST /auth/keycloak/", auth.KeycloakAdminHandler())
	return mux, auth.Close, nil
}
