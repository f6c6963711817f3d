// Package setup builds the tokenwarden pipeline that the gin, echo and chi
// examples mount: issuer discovery, the realm's key set, the verifier, the
// Memory deny-list and Keycloak's back-channel logout handler.
package setup

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// Pipeline is what an example mounts.
type Pipeline struct {
	Auth *adapter.Authenticator
	// BackchannelLogout serves POST /auth/backchannel-logout.
	BackchannelLogout http.Handler
	close             func()
}

// Close stops the key set refresher and the store.
func (p *Pipeline) Close() { p.close() }

// FromEnv reads TOKENWARDEN_ISSUER (or KEYCLOAK_URL and KEYCLOAK_REALM),
// TOKENWARDEN_AUDIENCE (default backend) and TOKENWARDEN_INSECURE_HTTP.
func FromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Pipeline, error) {
	issuer := getenv("TOKENWARDEN_ISSUER")
	if issuer == "" && getenv("KEYCLOAK_URL") != "" && getenv("KEYCLOAK_REALM") != "" {
		issuer = oidc.KeycloakIssuer(getenv("KEYCLOAK_URL"), getenv("KEYCLOAK_REALM"))
	}
	if issuer == "" {
		return nil, errors.New("set TOKENWARDEN_ISSUER, or KEYCLOAK_URL and KEYCLOAK_REALM")
	}
	audience := getenv("TOKENWARDEN_AUDIENCE")
	if audience == "" {
		audience = "backend"
	}
	insecure := getenv("TOKENWARDEN_INSECURE_HTTP") == "true"
	disc, err := oidc.Discover(ctx, oidc.DiscoveryConfig{Issuer: issuer, InsecureAllowHTTP: insecure, Logger: log})
	if err != nil {
		return nil, err
	}
	keys, err := disc.NewRemoteKeySet(oidc.KeySetConfig{InsecureAllowHTTP: insecure, Logger: log})
	if err != nil {
		return nil, err
	}
	v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: issuer, Keys: keys, Audience: []string{audience},
		Logout: oidc.LogoutTokenConfig{Audience: []string{"mobile"}}})
	if err != nil {
		keys.Close()
		return nil, err
	}
	auth, err := adapter.New(adapter.Config{Verifier: v, Logger: log})
	if err != nil {
		keys.Close()
		return nil, err
	}
	bcl, err := adapter.BackchannelLogoutHandler(adapter.BackchannelLogoutConfig{Verifier: v, Store: auth.Store(), Logger: log})
	if err != nil {
		auth.Close()
		keys.Close()
		return nil, err
	}
	return &Pipeline{Auth: auth, BackchannelLogout: bcl, close: func() { auth.Close(); keys.Close() }}, nil
}
