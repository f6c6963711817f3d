package adapter

import (
	"context"

	"github.com/tokenwarden/tokenwarden/oidc"
)

type claimsKey struct{}

// NewContext returns a copy of ctx carrying c.
func NewContext(ctx context.Context, c *oidc.Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// FromContext returns the claims the middleware stored in ctx.
func FromContext(ctx context.Context) (*oidc.Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*oidc.Claims)
	return c, ok && c != nil
}
