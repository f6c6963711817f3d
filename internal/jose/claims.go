package jose

import (
	"time"

	"github.com/tokenwarden/tokenwarden/internal/strictjson"
)

// Claims has the layout of oidc.Claims, which is converted from it without
// copying ((*oidc.Claims)(c)): the two declare the same fields, in the same
// order, with the same types, and the compiler refuses the conversion in
// oidc the moment they differ. The field documentation lives on oidc.Claims.
type Claims struct {
	Issuer, Subject                       string
	Audience                              []string
	Expiry, IssuedAt, NotBefore, AuthTime time.Time
	ID, SessionID                         string

	AuthorizedParty, ClientID, Type, Scope string

	RealmRoles  []string
	ClientRoles map[string][]string

	PreferredUsername, Email string

	Organizations, Groups []string

	Confirmation *Confirmation

	Raw string
}

// Confirmation is the cnf claim (RFC 7800) of a sender-constrained token.
type Confirmation struct {
	JKT       string // jkt: JWK SHA-256 thumbprint (DPoP, RFC 9449 §6.1)
	X5TSHA256 string // x5t#S256: certificate thumbprint (mTLS, RFC 8705 §3.1)
}

// Extras are members that decide a token's kind but have no Claims field.
type Extras struct {
	Events        bool // an events member is present
	LogoutEvent   bool // events holds the back-channel logout member (an object)
	RevokeOffline bool // events.revoke_offline_access is true
	Nonce         bool // a nonce member is present, even as null
	HasExp        bool
	HasIat        bool
}

// BackchannelLogoutEvent is the events member of a logout token (OpenID
// Connect Back-Channel Logout 1.0 §2.4).
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// Other reads a top-level member that is not a claim of Claims, with r at
// its value: it returns true after consuming the value, or false (without
// consuming it) to have it validated and skipped.
type Other func(name string, r *strictjson.Reader) (bool, error)

// DecodeClaims decodes the JSON claims object text strictly into Claims
// whose Raw is text: names are case-sensitive, a
// name repeated at any level (also through escapes or Unicode case folding)
// is refused, strings must be valid UTF-8, nesting is bounded, NumericDates
// (exp, iat, nbf, auth_time) must be JSON integers in (0, 1e11), aud is a
// string or an array of strings, roles and groups are arrays of strings,
// organization is an array of aliases, an object keyed by alias, or an array
// mixing both. A null value
// counts as absent. Unknown members are validated and skipped. Strings
// without escapes point into text. No claim value is checked.
func DecodeClaims(text string, x *Extras) (*Claims, error) {
	d := decoder{c: &Claims{Raw: text}, x: x}
	r := strictjson.NewReader(text)
	if r.Peek() != '{' {
		return nil, malformed("claims are not a json object")
	}
	err := r.Object(func(name string) error { return d.member(&r, name) })
	return d.done(&r, err)
}

// DecodeWith is DecodeClaims that first offers every top-level member to
// other, for documents that carry claims next to members of their own (an
// RFC 7662 answer's active, username, token_type), so that such a document
// is read in one pass. (A separate function: passing the reader to a
// callback moves it to the heap, which the verifier's path avoids.)
func DecodeWith(text string, x *Extras, other Other) (*Claims, error) {
	d := decoder{c: &Claims{Raw: text}, x: x}
	r := strictjson.NewReader(text)
	if r.Peek() != '{' {
		return nil, malformed("claims are not a json object")
	}
	err := r.Object(func(name string) error {
		if done, err := other(name, &r); done || err != nil {
			return err
		}
		return d.member(&r, name)
	})
	return d.done(&r, err)
}

// decoder is the state of one claims decoding.
type decoder struct {
	c    *Claims
	x    *Extras
	bad  string   // the member whose value was refused
	strs []string // backs every string array of c: one allocation for all
}

// done maps the outcome of reading the claims object to a refusal.
func (d *decoder) done(r *strictjson.Reader, err error) (*Claims, error) {
	switch {
	case err == strictjson.ErrDuplicate:
		return nil, malformed("duplicate claim")
	case d.bad != "":
		return nil, malformed("claim " + Quote(d.bad) + " has an invalid value")
	case err != nil:
		return nil, malformed("claims are not valid json")
	case r.End() != nil:
		return nil, malformed("trailing data after claims")
	}
	return d.c, nil
}

// member reads one top-level member; on a refused value it records the
// member's name.
func (d *decoder) member(r *strictjson.Reader, name string) error {
	err := d.claim(r, name)
	if err != nil && err != strictjson.ErrDuplicate {
		d.bad = name
	}
	return err
}

// strings reads an array of strings into the shared backing array; the
// result's capacity is its length, so appending to it never writes into
// another claim's elements.
func (d *decoder) strings(r *strictjson.Reader) ([]string, error) {
	all, err := r.AppendStrings(d.arena())
	return d.keep(all), err
}

// arena returns the shared backing array for appending.
func (d *decoder) arena() []string {
	if d.strs == nil {
		d.strs = make([]string, 0, 32)
	}
	return d.strs
}

// keep takes all (the arena with elements appended) as the new arena and
// returns the appended elements with their capacity cut to their length.
func (d *decoder) keep(all []string) []string {
	n := len(d.strs)
	d.strs = all
	return all[n:len(all):len(all)]
}

func (d *decoder) claim(r *strictjson.Reader, name string) error {
	c, x := d.c, d.x
	if name == "nonce" {
		// Present even as null: a logout token must not carry one (OpenID
		// Connect Back-Channel Logout 1.0 §2.4).
		x.Nonce = true
	}
	if r.Null() {
		return nil
	}
	var err error
	switch name {
	case "iss":
		c.Issuer, err = r.String()
	case "sub":
		c.Subject, err = r.String()
	case "aud":
		if r.Peek() == '"' {
			var a string
			if a, err = r.String(); err == nil {
				c.Audience = d.keep(append(d.arena(), a))
			}
		} else {
			c.Audience, err = d.strings(r)
		}
	case "exp":
		c.Expiry, err = numericDate(r)
		x.HasExp = err == nil
	case "iat":
		c.IssuedAt, err = numericDate(r)
		x.HasIat = err == nil
	case "nbf":
		c.NotBefore, err = numericDate(r)
	case "auth_time":
		c.AuthTime, err = numericDate(r)
	case "jti":
		c.ID, err = r.String()
	case "sid":
		c.SessionID, err = r.String()
	case "azp":
		c.AuthorizedParty, err = r.String()
	case "client_id":
		c.ClientID, err = r.String()
	case "typ":
		c.Type, err = r.String()
	case "scope":
		c.Scope, err = r.String()
	case "preferred_username":
		c.PreferredUsername, err = r.String()
	case "email":
		c.Email, err = r.String()
	case "realm_access":
		c.RealmRoles, err = d.roles(r)
	case "resource_access":
		c.ClientRoles, err = d.resourceAccess(r)
	case "organization":
		c.Organizations, err = d.organizations(r)
	case "groups":
		c.Groups, err = d.strings(r)
	case "cnf":
		c.Confirmation, err = confirmation(r)
	case "events":
		x.Events = true
		err = events(r, x)
	default:
		err = r.Skip()
	}
	return err
}

// NumericDate reads an RFC 7519 NumericDate restricted to a JSON integer in
// (0, 1e11): strings, fractions, exponents, negative and huge values are
// refused. (RFC 7519 allows fractions; no supported issuer sends them, and
// refusing them keeps 1e300-style values out.)
func NumericDate(r *strictjson.Reader) (time.Time, error) { return numericDate(r) }

func numericDate(r *strictjson.Reader) (time.Time, error) {
	v, err := r.Uint()
	if err != nil || v <= 0 {
		return time.Time{}, strictjson.ErrSyntax
	}
	return time.Unix(v, 0), nil
}

// roles reads {"roles":[...], ...} and returns roles.
func (d *decoder) roles(r *strictjson.Reader) ([]string, error) {
	var out []string
	err := r.Object(func(name string) error {
		if name != "roles" || r.Null() {
			return r.Skip()
		}
		var err error
		out, err = d.strings(r)
		return err
	})
	return out, err
}

// resourceAccess reads {"<client>":{"roles":[...]}, ...}.
func (d *decoder) resourceAccess(r *strictjson.Reader) (map[string][]string, error) {
	type entry struct {
		client string
		roles  []string
	}
	var eb [16]entry
	entries := eb[:0]
	err := r.Object(func(name string) error {
		if r.Null() {
			return nil
		}
		rs, err := d.roles(r)
		entries = append(entries, entry{name, rs})
		return err
	})
	if err != nil {
		return nil, err
	}
	m := make(map[string][]string, len(entries))
	for _, e := range entries {
		m[e.client] = e.roles
	}
	return m, nil
}

// organizations reads Keycloak's organization claim: an array of aliases,
// or an object whose member names are the aliases (their values, the id and
// attributes, are validated and skipped). An array may also hold such
// objects (two organization mappers on one client), so an alias may appear
// twice across elements; within one object a repeated alias is refused like
// any repeated name.
func (d *decoder) organizations(r *strictjson.Reader) ([]string, error) {
	all := d.arena()
	alias := func(name string) error {
		all = append(all, name)
		return r.Skip()
	}
	var err error
	if r.Peek() == '[' {
		err = r.Array(func() error {
			if r.Peek() == '{' {
				return r.Object(alias)
			}
			a, err := r.String()
			all = append(all, a)
			return err
		})
	} else {
		err = r.Object(alias)
	}
	if err != nil {
		return nil, err
	}
	if len(all) == len(d.strs) {
		return nil, nil // [] or {}: member of none
	}
	return d.keep(all), nil
}

// confirmation reads the cnf object (RFC 7800).
func confirmation(r *strictjson.Reader) (*Confirmation, error) {
	cnf := &Confirmation{}
	err := r.Object(func(name string) error {
		var err error
		switch name {
		case "jkt":
			cnf.JKT, err = r.String()
		case "x5t#S256":
			cnf.X5TSHA256, err = r.String()
		default:
			err = r.Skip()
		}
		return err
	})
	return cnf, err
}

// events reads the events object of a logout token: the back-channel member
// must be a JSON object; revoke_offline_access (Keycloak) must be a
// boolean; others are skipped.
func events(r *strictjson.Reader, x *Extras) error {
	return r.Object(func(name string) error {
		var err error
		switch name {
		case BackchannelLogoutEvent:
			if r.Peek() != '{' {
				return strictjson.ErrSyntax
			}
			x.LogoutEvent = true
			err = r.Skip()
		case "revoke_offline_access":
			x.RevokeOffline, err = r.Bool()
		default:
			err = r.Skip()
		}
		return err
	})
}
