package oidc

import (
	"errors"
	"strings"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

// Categories of verification failure. Every error returned by the verifiers
// in this package wraps exactly one of them (or ErrUnknownKey, or an error of
// the KeySource), so callers branch with errors.Is. The messages never
// contain the token; values copied from a token (kid, iss) are truncated and
// escaped.
var (
	// ErrMalformed: the token is not a compact JWS this package accepts
	// (segments, base64url, JSON, sizes, claim types, required claims).
	ErrMalformed = errors.New("oidc: malformed token")
	// ErrAlgorithm: the header alg is not in the allow-list or does not
	// match the algorithm pinned to the signing key.
	ErrAlgorithm = errors.New("oidc: disallowed signing algorithm")
	// ErrBadSignature: the signature does not verify with the key named by kid.
	ErrBadSignature = errors.New("oidc: invalid signature")
	// ErrExpired: exp (plus leeway) has passed, or a logout token or admin
	// message is older than allowed.
	ErrExpired = errors.New("oidc: token expired")
	// ErrNotYetValid: nbf or iat lies in the future beyond the leeway.
	ErrNotYetValid = errors.New("oidc: token not yet valid")
	// ErrWrongIssuer: iss is not the configured issuer.
	ErrWrongIssuer = errors.New("oidc: wrong issuer")
	// ErrWrongAudience: neither aud nor azp satisfies the audience rule
	// (for admin messages: the resource is not the configured client).
	ErrWrongAudience = errors.New("oidc: wrong audience")
	// ErrWrongType: the token is of another kind (ID, refresh, offline,
	// logout token presented as an access token, a header typ that does
	// not fit the mode, an unknown admin action).
	ErrWrongType = errors.New("oidc: wrong token type")
)

// ValidationError describes why a token was refused. Kind is one of the
// sentinel errors above (or ErrUnknownKey), and errors.Is(err, Kind) holds.
// Cause, when set, is the underlying error (for example from the KeySource)
// and is also reachable through errors.Is / errors.As.
//
// Check, Expected and Presented explain the refusal to an operator: which
// check failed and, where it helps, the value the configuration expects and
// the value the token presented, e.g. Check "aud", Expected
// `one of ["backend"]`, Presented `["account"]`; for exp, nbf and iat the
// rule with the clock and the leeway. Values copied from a token are quoted,
// escaped and truncated; nothing else of the token appears, never its text
// or its signature. They are meant for logs and audit trails, not for the
// client.
type ValidationError struct {
	Kind   error  // the category sentinel
	Detail string // a short description without token text
	Cause  error  // optional underlying error

	// Check names the check that failed: "jws" (size, shape, base64url,
	// header), "alg", "header.typ", "kid", "key", "sig", "claims", "iss",
	// "typ", "events", "aud", "azp", "exp", "nbf", "iat", "nonce", "jti",
	// "sub", "sid", "client_id", and for admin messages "action",
	// "resource", "expiration", "id".
	Check     string
	Expected  string // what the configuration accepts; may be empty
	Presented string // what the token carries; may be empty
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Check != "" && (e.Expected != "" || e.Presented != "") {
		b.WriteString(": ")
		jose.WriteCheck(&b, e.Check, e.Expected, e.Presented)
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Cause.Error(), "oidc: "))
	}
	return b.String()
}

// Unwrap returns the category and the cause.
func (e *ValidationError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

// verr is a refusal without expected and presented values.
func verr(kind error, check, detail string) error {
	return &ValidationError{Kind: kind, Check: check, Detail: detail}
}

// explain is a refusal of check with the expected and presented values.
func explain(kind error, check, expected, presented string) error {
	return &ValidationError{Kind: kind, Check: check, Expected: expected, Presented: presented}
}

// absent is the presented value of a missing claim.
const absent = "absent"

// missing refuses a token without a required claim.
func missing(claim string) error {
	return &ValidationError{Kind: ErrMalformed, Check: claim, Expected: "present", Presented: absent}
}
