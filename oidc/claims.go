package oidc

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/jose"
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

	// Organizations are the organizations the subject is a member of
	// (Keycloak's organization claim): the aliases, whether the claim is
	// an array of aliases (the default) or an object keyed by alias (the
	// mapper's "add organization id" or attributes options).
	Organizations []string
	// Groups is the groups claim (Keycloak's group membership mapper):
	// full paths such as "/staff/ops", or bare names, as the mapper is
	// configured.
	Groups []string

	// Confirmation is the cnf claim (RFC 7800), set for sender-constrained
	// tokens such as DPoP; nil otherwise.
	Confirmation *Confirmation

	// Raw is the JSON text the claims were decoded from (a token's
	// payload, an introspection answer), for claims this type does not
	// name; see Decode.
	Raw string
}

// Confirmation is the cnf claim of a sender-constrained token (RFC 7800):
// JKT is the jkt member, the JWK SHA-256 thumbprint of a DPoP key (RFC 9449
// §6.1); X5TSHA256 is x5t#S256, the thumbprint of an mTLS client
// certificate (RFC 8705 §3.1).
type Confirmation = jose.Confirmation

// Claims and jose.Claims declare the same fields: decoders fill a
// jose.Claims and hand it out as a *Claims without copying.
var _ = (*Claims)((*jose.Claims)(nil))

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

// Decode unmarshals Raw into v, for claims this type does not name. Raw
// already passed strict decoding: no member name repeats, not even in
// another letter case, so encoding/json's case-insensitive matching cannot
// choose between two spellings. A member present only in another case
// (e.g. "Tenant") still fills a field tagged "tenant".
func (c *Claims) Decode(v any) error { return json.Unmarshal([]byte(c.Raw), v) }

// ParseClaims decodes a JSON claims object strictly: member names are
// case-sensitive, a name repeated in any object (also when the repetition
// differs only in case, or hides behind an escape) is refused, strings must
// be valid UTF-8, nesting is bounded, NumericDates (exp, iat, nbf,
// auth_time) must be JSON integers in (0, 1e11), aud is a string or an
// array of strings, roles and groups are arrays of strings, organization is
// an array of aliases, an object keyed by alias, or an array mixing both. A
// null value counts as absent. Unknown members (for
// example RFC 7662 active, token_type, username) are validated and skipped.
//
// ParseClaims checks no signature and no claim values: it is the decoder
// under Verifier (and, in the same pass as the RFC 7662 members, under the
// introspect package). The returned Claims keeps payload's text as Raw.
func ParseClaims(payload []byte) (*Claims, error) {
	if len(payload) > maxTokenBytesLimit {
		return nil, verr(ErrMalformed, "claims", "claims too large")
	}
	var x jose.Extras
	return decodeClaims(string(payload), &x)
}

// decodeClaims decodes text (the payload JSON) into Claims. Strings without
// escapes point into text.
func decodeClaims(text string, x *jose.Extras) (*Claims, error) {
	c, err := jose.DecodeClaims(text, x)
	if err != nil {
		return nil, fromJose(err, "claims")
	}
	return (*Claims)(c), nil
}
