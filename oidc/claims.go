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
// name. The payload already passed strict decoding: no member name repeats,
// not even in another letter case, so encoding/json's case-insensitive
// matching cannot choose between two spellings. A member present only in
// another case (e.g. "Tenant") still fills a field tagged "tenant".
func (c *Claims) Decode(v any) error { return json.Unmarshal(c.raw, v) }

// ParseClaims decodes a JSON claims object strictly: member names are
// case-sensitive, a name repeated at the top level or inside realm_access,
// resource_access, resource_access.<client>, cnf, organization or events
// (also when the repetition differs only in case) is refused, strings must be valid UTF-8,
// nesting is bounded, NumericDates (exp, iat, nbf, auth_time) must be JSON
// integers in (0, 1e11), aud is a string or an array of strings, roles are
// arrays of strings. A null value counts as absent. Unknown members (for
// example RFC 7662 active, token_type, username) are validated and skipped.
//
// ParseClaims checks no signature and no claim values: it is the decoder
// under Verifier, exported for introspection responses. The returned Claims
// keeps a copy of payload for Raw and Decode.
func ParseClaims(payload []byte) (*Claims, error) {
	if len(payload) > MaxTokenBytesLimit {
		return nil, verr(ErrMalformed, "claims too large")
	}
	text := string(payload)
	var x claimExtras
	return decodeClaims([]byte(text), text, &x)
}

// claimExtras are members that decide the token kind but have no field in
// Claims.
type claimExtras struct {
	events        bool // an events member is present
	logoutEvent   bool // events contains the back-channel logout member (an object)
	revokeOffline bool // events.revoke_offline_access is true
	nonce         bool // a nonce member is present
	hasExp        bool
	hasIat        bool
}

const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// decodeClaims decodes text (the payload JSON; raw is the same bytes) into a
// Claims. Strings without escapes point into text.
func decodeClaims(raw []byte, text string, x *claimExtras) (*Claims, error) {
	c := &Claims{raw: raw}
	d := jsonReader{s: text}
	if err := d.objStart(); err != nil {
		return nil, verr(ErrMalformed, "claims are not a json object")
	}
	var nb [48]string
	names := nameSet{list: nb[:0]}
	first := true
	for {
		name, more, err := d.objNext(&first)
		if err != nil {
			return nil, verr(ErrMalformed, "claims are not valid json")
		}
		if !more {
			break
		}
		var ok bool
		if names, ok = names.add(name); !ok {
			return nil, verr(ErrMalformed, "duplicate claim")
		}
		if d.null() {
			continue
		}
		switch name {
		case "iss":
			c.Issuer, err = d.str()
		case "sub":
			c.Subject, err = d.str()
		case "aud":
			if d.peek() == '"' {
				var a string
				if a, err = d.str(); err == nil {
					c.Audience = []string{a}
				}
			} else {
				c.Audience, err = d.strArray()
			}
		case "exp":
			c.Expiry, err = d.numericDate()
			x.hasExp = err == nil
		case "iat":
			c.IssuedAt, err = d.numericDate()
			x.hasIat = err == nil
		case "nbf":
			c.NotBefore, err = d.numericDate()
		case "auth_time":
			c.AuthTime, err = d.numericDate()
		case "jti":
			c.ID, err = d.str()
		case "sid":
			c.SessionID, err = d.str()
		case "azp":
			c.AuthorizedParty, err = d.str()
		case "client_id":
			c.ClientID, err = d.str()
		case "typ":
			c.Type, err = d.str()
		case "scope":
			c.Scope, err = d.str()
		case "preferred_username":
			c.PreferredUsername, err = d.str()
		case "email":
			c.Email, err = d.str()
		case "realm_access":
			c.RealmRoles, err = d.rolesObject()
		case "resource_access":
			c.ClientRoles, err = d.resourceAccess()
		case "organization":
			c.Organizations, err = d.organizations()
		case "groups":
			c.Groups, err = d.strArray()
		case "cnf":
			c.Confirmation, err = d.confirmation()
		case "events":
			x.events = true
			err = d.events(x)
		case "nonce":
			x.nonce = true
			err = d.skip()
		default:
			err = d.skip()
		}
		if err != nil {
			return nil, verr(ErrMalformed, "claim "+quoteUntrusted(name)+" has an invalid value")
		}
	}
	if d.end() != nil {
		return nil, verr(ErrMalformed, "trailing data after claims")
	}
	return c, nil
}

// numericDate reads an RFC 7519 NumericDate restricted to a JSON integer in
// (0, 1e11): strings, fractions, exponents, negative and huge values are
// refused. (RFC 7519 allows fractions; no supported issuer sends them, and
// refusing them keeps 1e300-style values out.)
func (d *jsonReader) numericDate() (time.Time, error) {
	s, err := d.number()
	if err != nil {
		return time.Time{}, err
	}
	if len(s) > 11 {
		return time.Time{}, errJSON
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return time.Time{}, errJSON
		}
		v = v*10 + int64(c-'0')
	}
	if v <= 0 {
		return time.Time{}, errJSON
	}
	return time.Unix(v, 0), nil
}

// rolesObject reads {"roles":[...], ...} and returns roles.
func (d *jsonReader) rolesObject() ([]string, error) {
	if err := d.objStart(); err != nil {
		return nil, err
	}
	var nb [8]string
	names := nameSet{list: nb[:0]}
	var roles []string
	first := true
	for {
		name, more, err := d.objNext(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			return roles, nil
		}
		var ok bool
		if names, ok = names.add(name); !ok {
			return nil, errJSON
		}
		if name == "roles" && !d.null() {
			roles, err = d.strArray()
		} else {
			err = d.skip()
		}
		if err != nil {
			return nil, err
		}
	}
}

// resourceAccess reads {"<client>":{"roles":[...]}, ...}.
func (d *jsonReader) resourceAccess() (map[string][]string, error) {
	if err := d.objStart(); err != nil {
		return nil, err
	}
	type entry struct {
		client string
		roles  []string
	}
	var eb [16]entry
	entries := eb[:0]
	var nb [16]string
	names := nameSet{list: nb[:0]}
	first := true
	for {
		name, more, err := d.objNext(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		var ok bool
		if names, ok = names.add(name); !ok {
			return nil, errJSON
		}
		if d.null() {
			continue
		}
		roles, err := d.rolesObject()
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{name, roles})
	}
	m := make(map[string][]string, len(entries))
	for _, e := range entries {
		m[e.client] = e.roles
	}
	return m, nil
}

// organizations reads Keycloak's organization claim: an array of aliases,
// or an object whose member names are the aliases (their values, the id
// and attributes, are skipped). An array may also hold such objects (two
// organization mappers on one client).
func (d *jsonReader) organizations() ([]string, error) {
	if d.peek() != '[' {
		return d.orgObject(nil)
	}
	if err := d.arrStart(); err != nil {
		return nil, err
	}
	var aliases []string
	first := true
	for {
		more, err := d.arrNext(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			return aliases, nil
		}
		if d.peek() == '{' {
			aliases, err = d.orgObject(aliases)
		} else {
			var a string
			a, err = d.str()
			aliases = append(aliases, a)
		}
		if err != nil {
			return nil, err
		}
	}
}

// orgObject reads {"<alias>":{...}, ...} and appends the aliases.
func (d *jsonReader) orgObject(aliases []string) ([]string, error) {
	if err := d.objStart(); err != nil {
		return nil, err
	}
	var nb [8]string
	names := nameSet{list: nb[:0]}
	first := true
	for {
		name, more, err := d.objNext(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			return aliases, nil
		}
		var ok bool
		if names, ok = names.add(name); !ok {
			return nil, errJSON
		}
		if err := d.skip(); err != nil {
			return nil, err
		}
		aliases = append(aliases, name)
	}
}

// confirmation reads the cnf object (RFC 7800).
func (d *jsonReader) confirmation() (*Confirmation, error) {
	if err := d.objStart(); err != nil {
		return nil, err
	}
	cnf := &Confirmation{}
	var nb [8]string
	names := nameSet{list: nb[:0]}
	first := true
	for {
		name, more, err := d.objNext(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			return cnf, nil
		}
		var ok bool
		if names, ok = names.add(name); !ok {
			return nil, errJSON
		}
		switch name {
		case "jkt":
			cnf.JKT, err = d.str()
		case "x5t#S256":
			cnf.X5TSHA256, err = d.str()
		default:
			err = d.skip()
		}
		if err != nil {
			return nil, err
		}
	}
}

// events reads the events object of a logout token (OpenID Back-Channel
// Logout 1.0 §2.4): the back-channel member must be a JSON object;
// revoke_offline_access (Keycloak) must be a boolean; others are skipped.
func (d *jsonReader) events(x *claimExtras) error {
	if err := d.objStart(); err != nil {
		return err
	}
	var nb [8]string
	names := nameSet{list: nb[:0]}
	first := true
	for {
		name, more, err := d.objNext(&first)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		var ok bool
		if names, ok = names.add(name); !ok {
			return errJSON
		}
		switch name {
		case backchannelLogoutEvent:
			if d.peek() != '{' {
				return errJSON
			}
			x.logoutEvent = true
			err = d.skip()
		case "revoke_offline_access":
			x.revokeOffline, err = d.boolean()
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}
