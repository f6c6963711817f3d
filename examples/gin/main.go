// Command gin mounts tokenwarden in a gin router: Authenticate runs the
// pipeline as gin middleware and stores the verified claims in the gin
// context, Require guards a route, Claims reads them in a handler.
//
// Environment: TOKENWARDEN_ISSUER (or KEYCLOAK_URL and KEYCLOAK_REALM),
// TOKENWARDEN_AUDIENCE, TOKENWARDEN_INSECURE_HTTP, LISTEN (default
// 127.0.0.1:8083).
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

	"github.com/gin-gonic/gin"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/examples/internal/setup"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// claimsKey is where Authenticate puts the claims in the gin context.
const claimsKey = "tokenwarden.claims"

// wrap turns net/http middleware into gin middleware: the request goes on
// (with the context the middleware gave it) only if the middleware called
// its next handler; otherwise its answer (401, 403, 503) stands.
func wrap(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		passed := false
		mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r
			if claims, ok := adapter.FromContext(r.Context()); ok {
				c.Set(claimsKey, claims)
			}
		})).ServeHTTP(c.Writer, c.Request)
		if !passed {
			c.Abort()
			return
		}
		c.Next()
	}
}

// Authenticate is gin middleware running the tokenwarden pipeline.
func Authenticate(auth *adapter.Authenticator) gin.HandlerFunc { return wrap(auth.Middleware) }

// Require is gin middleware enforcing reqs (403 insufficient_scope).
func Require(auth *adapter.Authenticator, reqs ...adapter.Requirement) gin.HandlerFunc {
	return wrap(auth.Require(reqs...))
}

// Claims returns the verified claims of the request.
func Claims(c *gin.Context) *oidc.Claims {
	v, _ := c.Get(claimsKey)
	claims, _ := v.(*oidc.Claims)
	return claims
}

func newRouter(auth *adapter.Authenticator) *gin.Engine {
	r := gin.New()
	r.Use(gin.Recovery())
	r.POST("/auth/backchannel-logout", gin.WrapH(auth.BackchannelLogoutHandler()))
	api := r.Group("/api", Authenticate(auth))
	api.GET("/profile", func(c *gin.Context) {
		cl := Claims(c)
		c.JSON(http.StatusOK, gin.H{"sub": cl.Subject, "username": cl.PreferredUsername, "realm_roles": cl.RealmRoles})
	})
	api.GET("/admin/report", Require(auth, adapter.RequireRealmRole("admin")), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"report": "quarterly numbers", "requested_by": Claims(c).PreferredUsername})
	})
	return r
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	auth, err := setup.FromEnv(ctx, os.Getenv, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gin:", err)
		os.Exit(1)
	}
	defer auth.Close()
	gin.SetMode(gin.ReleaseMode)
	addr := os.Getenv("LISTEN")
	if addr == "" {
		addr = "127.0.0.1:8083"
	}
	srv := &http.Server{Addr: addr, Handler: newRouter(auth)}
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	log.Info("listening", "addr", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "gin:", err)
		os.Exit(1)
	}
}
