// Package setup builds the Authenticator that the gin, echo and chi examples
// mount: issuer discovery, the realm's key set, the verifier, the Memory
// deny-list and Keycloak's back-channel logout handler, all from adapter.New.
package setup

import (
	"context"
	"errors"
	"log/slog"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// FromEnv reads TOKENWARDEN_ISSUER (or KEYCLOAK_URL and KEYCLOAK_REALM),
// TOKENWARDEN_AUDIENCE (default backend), TOKENWARDEN_MOBILE_CLIENT_ID
// (default mobile, the client Keycloak addresses logout tokens to) and
// TOKENWARDEN_INSECURE_HTTP. The caller closes the Authenticator.
func FromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger) (*adapter.Authenticator, error) {
	issuer := getenv("TOKENWARDEN_ISSUER")
	if issuer == "" && getenv("KEYCLOAK_URL") != "" && getenv("KEYCLOAK_REALM") != "" {
		issuer = oidc.KeycloakIssuer(getenv("KEYCLOAK_URL"), getenv("KEYCLOAK_REALM"))
	}
	if issuer == "" {
		return nil, errors.New("set TOKENWARDEN_ISSUER, or KEYCLOAK_URL and KEYCLOAK_REALM")
	}
	return adapter.New(ctx, adapter.Config{
		Issuer:            issuer,
		Audience:          Or(getenv("TOKENWARDEN_AUDIENCE"), "backend"),
		Clients:           []string{Or(getenv("TOKENWARDEN_MOBILE_CLIENT_ID"), "mobile")},
		InsecureAllowHTTP: getenv("TOKENWARDEN_INSECURE_HTTP") == "true",
		Logger:            log,
	})
}

// Or returns v, or def when v is empty.
func Or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
