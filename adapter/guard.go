package adapter

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/tokenwarden/tokenwarden/internal/strictjson"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// A Requirement decides whether the verified claims of a request may reach
// the handler. Requirements are values: build them once, share them freely.
type Requirement struct {
	allow func(*oidc.Claims) bool
	scope string // advertised in an insufficient_scope challenge
	desc  string
}

// Allow reports whether c meets the requirement. A nil c never does.
func (q Requirement) Allow(c *oidc.Claims) bool {
	if c == nil || q.allow == nil {
		return false
	}
	return q.allow(c)
}

// RequireScope is met when the scope claim contains every one of scopes.
// With no scopes it is never met.
func RequireScope(scopes ...string) Requirement {
	s := append([]string(nil), scopes...)
	return Requirement{
		allow: func(c *oidc.Claims) bool {
			if len(s) == 0 {
				return false
			}
			for _, v := range s {
				if !c.HasScope(v) {
					return false
				}
			}
			return true
		},
		scope: strings.Join(s, " "),
		desc:  "scope required",
	}
}

// RequireRealmRole is met when realm_access.roles contains role.
func RequireRealmRole(role string) Requirement {
	return Requirement{
		allow: func(c *oidc.Claims) bool { return role != "" && c.HasRealmRole(role) },
		desc:  "realm role required",
	}
}

// RequireClientRole is met when resource_access.<client>.roles contains role.
func RequireClientRole(client, role string) Requirement {
	return Requirement{
		allow: func(c *oidc.Claims) bool { return role != "" && c.HasClientRole(client, role) },
		desc:  "client role required",
	}
}

// RequireClaim is met when the token's top-level claim name holds value:
// equals it (a string), contains it (an array of strings) or has it as a
// member name (an object). It is the membership guard for Keycloak's
// organization claim (an organization alias, whether the claim lists
// aliases or maps them to ids) and groups claim (a group exactly as the
// mapper writes it: "/staff/ops" with full paths, else "ops"; membership
// of a subgroup is not membership of its parent). Those two are read from
// oidc.Claims.Organizations and Groups; any other claim is read from the
// payload on every check. With an empty value it is never met.
func RequireClaim(name, value string) Requirement {
	var has func(*oidc.Claims) bool
	switch name {
	case "organization":
		has = func(c *oidc.Claims) bool { return slices.Contains(c.Organizations, value) }
	case "groups":
		has = func(c *oidc.Claims) bool { return slices.Contains(c.Groups, value) }
	default:
		has = func(c *oidc.Claims) bool { return claimHolds(c, name, value) }
	}
	return Requirement{
		allow: func(c *oidc.Claims) bool { return value != "" && has(c) },
		desc:  "claim required",
	}
}

// claimHolds reports whether c's top-level claim name holds value.
func claimHolds(c *oidc.Claims, name, value string) bool {
	held := false
	readClaim(c, name, func(r *strictjson.Reader) {
		switch r.Peek() {
		case '"':
			s, err := r.String()
			held = err == nil && s == value
		case '[':
			// Every element a string (null counts as absent).
			var found bool
			err := r.Array(func() error {
				if r.Null() {
					return nil
				}
				s, err := r.String()
				found = found || s == value
				return err
			})
			held = err == nil && found
		case '{':
			_ = r.Object(func(member string) error {
				held = held || member == value
				return r.Skip()
			})
		}
	})
	return held
}

// readClaim finds c's top-level claim name in its payload and, when it is
// there, calls read (when not nil) with the reader at its value, which read
// need not consume. It reports whether the claim is present. Raw passed
// strict decoding: no name repeats, not even in another letter case.
func readClaim(c *oidc.Claims, name string, read func(r *strictjson.Reader)) bool {
	r := strictjson.NewReader(c.Raw)
	if r.Peek() != '{' {
		return false
	}
	found := false
	_ = r.Object(func(member string) error {
		if member != name {
			return r.Skip()
		}
		found = true
		if read != nil {
			read(&r)
		}
		return errFound
	})
	return found
}

// errFound ends readClaim's walk at the claim.
var errFound = errors.New("claim found")

// RequireFunc wraps a custom check. desc is sent as error_description when
// the check fails; it must not contain request data.
func RequireFunc(desc string, f func(*oidc.Claims) bool) Requirement {
	return Requirement{allow: f, desc: desc}
}

// All is met when every requirement is. All() is always met.
func All(reqs ...Requirement) Requirement {
	rs := append([]Requirement(nil), reqs...)
	return Requirement{
		allow: func(c *oidc.Claims) bool {
			for _, r := range rs {
				if !r.Allow(c) {
					return false
				}
			}
			return true
		},
		scope: joinScopes(rs),
		desc:  "insufficient privileges",
	}
}

// Any is met when at least one requirement is. Any() is never met.
func Any(reqs ...Requirement) Requirement {
	rs := append([]Requirement(nil), reqs...)
	return Requirement{
		allow: func(c *oidc.Claims) bool {
			for _, r := range rs {
				if r.Allow(c) {
					return true
				}
			}
			return false
		},
		scope: joinScopes(rs),
		desc:  "insufficient privileges",
	}
}

func joinScopes(rs []Requirement) string {
	var parts []string
	for _, r := range rs {
		for _, s := range strings.Fields(r.scope) {
			if !contains(parts, s) {
				parts = append(parts, s)
			}
		}
	}
	return strings.Join(parts, " ")
}

func contains(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}

// check returns the refusal for c, or nil when q is met.
func (q Requirement) check(c *oidc.Claims) *AuthError {
	if q.Allow(c) {
		return nil
	}
	return &AuthError{
		Status:      http.StatusForbidden,
		Code:        codeInsufficientScope,
		Description: q.desc,
		Scope:       q.scope,
		Reason:      ReasonInsufficientScope,
	}
}

// requireHandler returns the middleware of Authenticator.Require.
func (a *Authenticator) requireHandler(reqs []Requirement) func(http.Handler) http.Handler {
	q := All(reqs...)
	if len(reqs) == 1 {
		q = reqs[0]
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := FromContext(r.Context())
			if !ok {
				writeAuthError(w, r, &a.ch, a.cfg.ErrorWriter, &AuthError{
					Status: http.StatusUnauthorized, Reason: ReasonNoCredentials, dpopOnly: a.dpopRequired(r),
				})
				return
			}
			if e := q.check(c); e != nil {
				// The claims of a request that passed the middleware are
				// bound to a key only when it came with DPoP.
				if bound(c) {
					e.used = schemeDPoP
				} else {
					e.used = schemeBearer
				}
				e.dpopOnly = a.dpopRequired(r)
				writeAuthError(w, r, &a.ch, a.cfg.ErrorWriter, e)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
