package introspect

import (
	"slices"

	"github.com/tokenwarden/tokenwarden/oidc"
)

// ConfigFromDiscovery returns cfg with what d advertises filled in where cfg
// leaves it empty: IntrospectionURL, RevocationURL and Issuer (d.Issuer, the
// configured issuer, which is what tokens carry). d's back-channel endpoints
// already point at its InternalURL when one is configured.
//
// When cfg.AuthMethod is zero it is chosen from the methods d advertises for
// the introspection endpoint (the revocation endpoint's for a client that
// only revokes): private_key_jwt if cfg.Signer is set, client_secret_basic
// if cfg.ClientSecret is set, client_secret_post when only that one is
// advertised, none without credentials. An empty list counts as
// client_secret_basic only (RFC 8414 §2).
//
// A public client (no secret, no signer) gets no IntrospectionURL, since it
// cannot introspect. Pass the result to New, which validates it.
func ConfigFromDiscovery(d *oidc.Discovery, cfg Config) Config {
	public := cfg.Signer == nil && cfg.ClientSecret == "" &&
		(cfg.AuthMethod == "" || cfg.AuthMethod == AuthNone)
	if cfg.IntrospectionURL == "" && !public {
		cfg.IntrospectionURL = d.IntrospectionEndpoint
	}
	if cfg.RevocationURL == "" {
		cfg.RevocationURL = d.RevocationEndpoint
	}
	if cfg.Issuer == "" {
		cfg.Issuer = d.Issuer
	}
	if cfg.AuthMethod == "" && cfg.Signer == nil && cfg.ClientSecret != "" {
		methods := d.IntrospectionEndpointAuthMethods
		if cfg.IntrospectionURL == "" {
			methods = d.RevocationEndpointAuthMethods
		}
		if len(methods) > 0 && !slices.Contains(methods, string(AuthClientSecretBasic)) &&
			slices.Contains(methods, string(AuthClientSecretPost)) {
			cfg.AuthMethod = AuthClientSecretPost
		}
	}
	return cfg
}
