package introspect

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Sentinel errors. Every error this package returns wraps at most one of the
// first four, so a middleware can map it to a response with errors.Is:
//
//	ErrInactive, ErrRejected → 401 invalid_token (the token is not usable)
//	ErrUnavailable, ErrInvalidResponse → 503 (the authorization server could not answer)
//	ErrConfig → a programming or deployment error
//
// A *Error (an RFC 6749 error response) additionally wraps ErrUnavailable when
// its HTTP status is 5xx, and ErrClientAuth when the server refused this
// client's credentials or does not let it call the endpoint.
var (
	// ErrInactive means the authorization server answered {"active":false}:
	// the token is revoked, expired, belongs to an ended session or a
	// disabled user, or is unknown. Keycloak 26.6.2 and later also answer
	// inactive when the introspecting client is not in the token's aud; if
	// a token that verifies locally is reported inactive, add an audience
	// mapper (oidc-audience-mapper, included.client.audience = this client)
	// to the client that requested the token.
	ErrInactive = errors.New("introspect: token is not active (revoked, expired, ended session or disabled user; " +
		"Keycloak 26.6.2+ also reports inactive when the introspecting client is not in the token's aud: add an audience mapper)")

	// ErrRejected means the authorization server answered active but the
	// answer failed one of this client's own checks (exp, iss, audience).
	// The returned error names the failed check.
	ErrRejected = errors.New("introspect: active token rejected")

	// ErrUnavailable means the authorization server could not be reached,
	// timed out or answered with a 5xx status. The token's state is unknown;
	// a middleware should answer 503, never 401. Never cached.
	ErrUnavailable = errors.New("introspect: authorization server unavailable")

	// ErrInvalidResponse means the authorization server answered with a body
	// that is not a valid RFC 7662 / RFC 7009 response (not JSON, "active"
	// missing or not a JSON boolean, oversized, malformed claims). The
	// token's state is unknown; treat it like ErrUnavailable. Never cached.
	ErrInvalidResponse = errors.New("introspect: invalid response from authorization server")

	// ErrClientAuth is wrapped by a *Error whose status is 401, or 403 on the
	// introspection endpoint, or whose code is invalid_client or
	// unauthorized_client: this client's credentials or type are wrong.
	ErrClientAuth = errors.New("introspect: client authentication failed")

	// ErrConfig reports an invalid Config, or a call the configuration does
	// not allow (introspection without an introspection URL, or as a public
	// client).
	ErrConfig = errors.New("introspect: invalid configuration")
)

// Endpoint names used in errors and in Event.Endpoint.
const (
	EndpointIntrospection = "introspection"
	EndpointRevocation    = "revocation"
)

// Error is an error response from the authorization server (RFC 6749 §5.2,
// used by RFC 7662 and RFC 7009), or a non-2xx status without such a body.
// Description is truncated, stripped of control characters and never
// contains the token that was sent.
type Error struct {
	Endpoint    string // EndpointIntrospection or EndpointRevocation
	Status      int    // HTTP status code
	Code        string // "error" member, e.g. "invalid_request"; empty if the body had none
	Description string // "error_description" member, or the start of a non-JSON body
}

// Error formats the status, code, description and, for known Keycloak
// answers, what to change.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("introspect: ")
	b.WriteString(e.Endpoint)
	b.WriteString(" endpoint answered ")
	fmt.Fprintf(&b, "%d", e.Status)
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if h := e.hint(); h != "" {
		b.WriteString(" (")
		b.WriteString(h)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns ErrUnavailable for 5xx statuses, ErrClientAuth for
// credential and client-type failures, nil otherwise.
func (e *Error) Unwrap() error {
	switch {
	case e.Status >= 500:
		return ErrUnavailable
	case e.Status == http.StatusUnauthorized,
		e.Code == "invalid_client", e.Code == "unauthorized_client",
		e.Status == http.StatusForbidden && e.Endpoint == EndpointIntrospection:
		return ErrClientAuth
	}
	return nil
}

// hint explains the Keycloak answers that are easy to misread.
func (e *Error) hint() string {
	switch {
	case e.Status == http.StatusUnauthorized:
		return "check the client id, secret or key and the authentication method"
	case e.Status == http.StatusForbidden && e.Endpoint == EndpointIntrospection &&
		strings.Contains(strings.ToLower(e.Description), "client not allowed"):
		return "public clients cannot introspect: use a confidential client"
	case e.Status == http.StatusForbidden && strings.Contains(strings.ToLower(e.Description), "https required"):
		return "the realm requires https (Keycloak sslRequired)"
	case e.Code == "unsupported_token_type":
		return "the server does not revoke this kind of token; Keycloak revokes access and refresh tokens only"
	case e.Status == http.StatusBadRequest && e.Endpoint == EndpointIntrospection && e.Code == "invalid_request" &&
		strings.Contains(strings.ToLower(e.Description), "unsupported token type"):
		return "unknown token_type_hint; Keycloak accepts access_token, refresh_token and requesting_party_token"
	case e.Status == http.StatusBadRequest && e.Endpoint == EndpointRevocation && e.Code == "invalid_request" &&
		strings.Contains(strings.ToLower(e.Description), "unmatching"):
		return "Keycloak lets a client revoke only tokens issued to it (azp)"
	}
	return ""
}

const maxDescription = 256

// sanitize makes an upstream string safe to show: control characters and
// invalid UTF-8 are dropped first, then the token is cut out (so dropping
// cannot reassemble it), then the result is truncated to maxDescription
// bytes on a rune boundary.
func sanitize(s, token string) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if token != "" {
		s = strings.ReplaceAll(s, token, "[token]")
	}
	if len(s) > maxDescription {
		i := maxDescription
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i] + "…"
	}
	return s
}
