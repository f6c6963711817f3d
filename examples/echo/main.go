// Command echo mounts tokenwarden in an Echo server: Authenticate runs the
// pipeline as Echo middleware and stores the verified claims in the Echo
// context, Require guards a route, Claims reads them in a handler.
//
// Environment: TOKENWARDEN_ISSUER (or KEYCLOAK_URL and KEYCLOAK_REALM),
// TOKENWARDEN_AUDIENCE, TOKENWARDEN_INSECURE_HTTP, LISTEN (default
// 127.0.0.1:8084).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/labstack/echo/v4"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/examples/internal/setup"
	"github.com/tokenwarden/tokenwarden/oidc"
)

const claimsKey = "tokenwarden.claims"

// wrap turns net/http middleware into Echo middleware: next runs only if the
// middleware let the request through, with the request (and its context)
// the middleware passed on.
func wrap(mw func(http.Handler) http.Handler) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			var err error
			mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				if claims, ok := adapter.FromContext(r.Context()); ok {
					c.Set(claimsKey, claims)
				}
				err = next(c)
			})).ServeHTTP(c.Response(), c.Request())
			return err
		}
	}
}

// Authenticate is Echo middleware running the tokenwarden pipeline.
func Authenticate(auth *adapter.Authenticator) echo.MiddlewareFunc { return wrap(auth.Middleware) }

// Require is Echo middleware enforcing reqs (403 insufficient_scope).
func Require(auth *adapter.Authenticator, reqs ...adapter.Requirement) echo.MiddlewareFunc {
	return wrap(auth.Require(reqs...))
}

// Claims returns the verified claims of the request.
func Claims(c echo.Context) *oidc.Claims {
	claims, _ := c.Get(claimsKey).(*oidc.Claims)
	return claims
}

func newServer(auth *adapter.Authenticator) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.POST("/auth/backchannel-logout", echo.WrapHandler(auth.BackchannelLogoutHandler()))
	api := e.Group("/api", Authenticate(auth))
	api.GET("/profile", func(c echo.Context) error {
		cl := Claims(c)
		return c.JSON(http.StatusOK, map[string]any{"sub": cl.Subject, "username": cl.PreferredUsername, "realm_roles": cl.RealmRoles})
	})
	api.GET("/admin/report", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"report": "quarterly numbers", "requested_by": Claims(c).PreferredUsername})
	}, Require(auth, adapter.RequireRealmRole("admin")))
	return e
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	auth, err := setup.FromEnv(ctx, os.Getenv, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
	defer auth.Close()
	addr := os.Getenv("LISTEN")
	if addr == "" {
		addr = "127.0.0.1:8084"
	}
	e := newServer(auth)
	go func() { <-ctx.Done(); _ = e.Shutdown(context.Background()) }()
	log.Info("listening", "addr", addr)
	if err := e.Start(addr); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}
