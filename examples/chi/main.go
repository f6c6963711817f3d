// Command chi mounts tokenwarden in a chi router. chi takes net/http
// middleware as it is: r.Use(auth.Middleware) and r.With(auth.Require(…)),
// with the claims read by adapter.FromContext.
//
// Environment: TOKENWARDEN_ISSUER (or KEYCLOAK_URL and KEYCLOAK_REALM),
// TOKENWARDEN_AUDIENCE, TOKENWARDEN_INSECURE_HTTP, LISTEN (default
// 127.0.0.1:8085).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/examples/internal/setup"
)

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func newRouter(auth *adapter.Authenticator) chi.Router {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Post("/auth/backchannel-logout", auth.BackchannelLogoutHandler().ServeHTTP)
	r.Route("/api", func(r chi.Router) {
		r.Use(auth.Middleware)
		r.Get("/profile", func(w http.ResponseWriter, r *http.Request) {
			c, _ := adapter.FromContext(r.Context())
			writeJSON(w, map[string]any{"sub": c.Subject, "username": c.PreferredUsername, "realm_roles": c.RealmRoles})
		})
		r.With(auth.Require(adapter.RequireRealmRole("admin"))).Get("/admin/report", func(w http.ResponseWriter, r *http.Request) {
			c, _ := adapter.FromContext(r.Context())
			writeJSON(w, map[string]any{"report": "quarterly numbers", "requested_by": c.PreferredUsername})
		})
	})
	return r
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	auth, err := setup.FromEnv(ctx, os.Getenv, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chi:", err)
		os.Exit(1)
	}
	defer auth.Close()
	addr := os.Getenv("LISTEN")
	if addr == "" {
		addr = "127.0.0.1:8085"
	}
	srv := &http.Server{Addr: addr, Handler: newRouter(auth)}
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	log.Info("listening", "addr", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "chi:", err)
		os.Exit(1)
	}
}
