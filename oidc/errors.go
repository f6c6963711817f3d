package oidc

import (
	"errors"
	"strings"
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
type ValidationError struct {
	Kind   error  // the category sentinel
	Detail string // a short description without token text
	Cause  error  // optional underlying error
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
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

func verr(kind error, detail string) error { return &ValidationError{Kind: kind, Detail: detail} }
