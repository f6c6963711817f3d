// Command gateway is a reverse proxy that protects any upstream (a service in
// any language) with tokenwarden: only requests with a valid, unrevoked
// access token reach it, with the verified identity in X-Auth-Subject,
// X-Auth-Username, X-Auth-Email, X-Auth-Roles, X-Auth-Scope and
// X-Auth-Session; the same headers sent by a client are removed, and so is
// the Authorization header unless GATEWAY_PASS_AUTHORIZATION=true. It also
// serves Keycloak's back-channel logout at /auth/backchannel-logout.
//
// Environment: GATEWAY_UPSTREAM (required), TOKENWARDEN_ISSUER or
// KEYCLOAK_URL + KEYCLOAK_REALM, TOKENWARDEN_AUDIENCE (default backend),
// TOKENWARDEN_MOBILE_CLIENT_ID (the client whose logout tokens are accepted,
// default mobile), GATEWAY_LISTEN (default 127.0.0.1:8082).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/oidc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := run(ctx, os.Getenv, log); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func getenvOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, getenv func(string) string, log *slog.Logger) error {
	up, err := url.Parse(getenv("GATEWAY_UPSTREAM"))
	if err != nil {
		return err
	}
	issuer := getenv("TOKENWARDEN_ISSUER")
	if issuer == "" && getenv("KEYCLOAK_URL") != "" {
		issuer = oidc.KeycloakIssuer(getenv("KEYCLOAK_URL"), getenv("KEYCLOAK_REALM"))
	}
	if issuer == "" {
		return errors.New("set TOKENWARDEN_ISSUER, or KEYCLOAK_URL and KEYCLOAK_REALM")
	}
	auth, err := adapter.New(ctx, adapter.Config{
		Issuer:            issuer,
		Audience:          getenvOr(getenv, "TOKENWARDEN_AUDIENCE", "backend"),
		Clients:           []string{getenvOr(getenv, "TOKENWARDEN_MOBILE_CLIENT_ID", "mobile")},
		InsecureAllowHTTP: getenv("TOKENWARDEN_INSECURE_HTTP") == "true",
		Logger:            log,
	})
	if err != nil {
		return err
	}
	defer auth.Close()
	gw, err := newGateway(GatewayConfig{Upstream: up, Auth: auth.Middleware,
		PassAuthorization: getenv("GATEWAY_PASS_AUTHORIZATION") == "true", Logger: log})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /auth/backchannel-logout", auth.BackchannelLogoutHandler())
	mux.Handle("/", gw)
	srv := &http.Server{Addr: getenvOr(getenv, "GATEWAY_LISTEN", "127.0.0.1:8082"), Handler: mux,
		ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("listening", "addr", srv.Addr, "upstream", up.String(), "issuer", issuer)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
