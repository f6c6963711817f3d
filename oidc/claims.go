package oidc

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Claims are the claims of a verified access token, typed for Keycloak.
//
// Both the local verifier and the introspect package fill this type, so a
// handler reads roles and scopes the same way whichever path decided.
// A Claims value is immutable once returned and safe for concurrent reads.
type Claims struct {
	Issuer    string    // iss
	Subject   string    // sub
	Audience  []string  // aud, a string or an array on the wire
	Expiry    time.Time // exp
	IssuedAt  time.Time // iat; zero when absent
	NotBefore time.Time // nbf; zero when absent
	AuthTime  time.Time // auth_time; zero when absent
	ID        string    // jti
	SessionID string    // sid; empty for service-account tokens

	AuthorizedParty string // azp: the client the token was issued to
	ClientID        string // client_id (RFC 9068, service accounts, introspection)
	Type            string // payload typ: "Bearer" or "DPoP" for access tokens
	Scope           string // space-separated scopes

	RealmRoles  []string            // realm_access.roles
	ClientRoles map[string][]string // resource_access.<client>.roles

	PreferredUsername string // preferred_username
	Email             string // email

	// Confirmation is the cnf claim (RFC 7800), set for sender-constrained
	// tokens such as DPoP; nil otherwise.
	Confirmation *Confirmation

	raw []byte // the decoded JSON payload, for custom claims
}

// Confirmation is the cnf claim of a sender-constrained token.
type Confirmation struct {
	JKT       string // jkt: JWK SHA-256 thumbprint (DPoP, RFC 9449)
	X5TSHA256 string // x5t#S256: certificate thumbprint (mTLS, RFC 8705)
}

// HasAudience reports whether aud contains v.
func (c *Claims) HasAudience(v string) bool { return slices.Contains(c.Audience, v) }

// HasRealmRole reports whether realm_access.roles contains role.
func (c *Claims) HasRealmRole(role string) bool { return slices.Contains(c.RealmRoles, role) }

// HasClientRole reports whether resource_access.<client>.roles contains role.
func (c *Claims) HasClientRole(client, role string) bool {
	return slices.Contains(c.ClientRoles[client], role)
}

// HasScope reports whether the space-separated scope claim contains s.
// It does not allocate.
func (c *Claims) HasScope(s string) bool {
	if s == "" {
		return false
	}
	rest := c.Scope
	for rest != "" {
		var tok string
		tok, rest, _ = strings.Cut(rest, " ")
		if tok == s {
			return true
		}
	}
	return false
}

// Scopes returns the scope claim split on spaces.
func (c *Claims) Scopes() []string { return strings.Fields(c.Scope) }

// Raw returns the JSON payload the claims were decoded from. The caller must
// not modify it.
func (c *Claims) Raw() []byte { return c.raw }

// Decode unmarshals the raw payload into v, for claims this type does not
// name. The payload already passed strict decoding (no duplicate names).
func (c *Claims) Decode(v any) error { return json.Unmarshal(c.raw, v) }
