package oidc

import (
	"context"
	"errors"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

// MultiVerifier verifies tokens of several issuers (several Keycloak realms,
// or Keycloak and another provider). It reads iss from the unverified
// payload with the same strict, bounded decoder, picks the Verifier
// configured for exactly that issuer and lets it verify the whole token;
// the keys of one issuer never verify another issuer's tokens. An unknown
// issuer is refused with ErrWrongIssuer without any fetch. It is safe for
// concurrent use.
type MultiVerifier struct {
	list     []*Verifier
	byIssuer map[string]*Verifier
	maxBytes int
}

// NewMultiVerifier returns a MultiVerifier over verifiers, which must have
// distinct issuers.
func NewMultiVerifier(verifiers ...*Verifier) (*MultiVerifier, error) {
	if len(verifiers) == 0 {
		return nil, errors.New("oidc: multi-verifier needs at least one verifier")
	}
	m := &MultiVerifier{byIssuer: make(map[string]*Verifier, len(verifiers))}
	for _, v := range verifiers {
		if v == nil {
			return nil, errors.New("oidc: nil verifier")
		}
		if _, dup := m.byIssuer[v.issuer]; dup {
			return nil, errors.New("oidc: two verifiers for one issuer")
		}
		m.byIssuer[v.issuer] = v
		m.list = append(m.list, v)
		m.maxBytes = max(m.maxBytes, v.maxBytes)
	}
	return m, nil
}

// Verifier returns the Verifier for issuer, or nil.
func (m *MultiVerifier) Verifier(issuer string) *Verifier { return m.byIssuer[issuer] }

// Verify verifies an access token with the Verifier of its issuer. Cached
// tokens are answered before any decoding.
func (m *MultiVerifier) Verify(ctx context.Context, token string) (*Claims, error) {
	for _, v := range m.list {
		if c := v.cached(token, v.now()); c != nil {
			return c, nil
		}
	}
	v, err := m.pick(token)
	if err != nil {
		return nil, err
	}
	return v.Verify(ctx, token)
}

// VerifyLogoutToken verifies a logout token with the Verifier of its issuer.
func (m *MultiVerifier) VerifyLogoutToken(ctx context.Context, raw string) (*LogoutClaims, error) {
	v, err := m.pick(raw)
	if err != nil {
		return nil, err
	}
	return v.VerifyLogoutToken(ctx, raw)
}

// Forget removes token from every verifier's cache.
func (m *MultiVerifier) Forget(token string) {
	for _, v := range m.list {
		v.Forget(token)
	}
}

// ForgetFunc removes matching tokens from every verifier's cache.
func (m *MultiVerifier) ForgetFunc(match func(*Claims) bool) int {
	n := 0
	for _, v := range m.list {
		n += v.ForgetFunc(match)
	}
	return n
}

// ForgetAll empties every verifier's cache.
func (m *MultiVerifier) ForgetAll() {
	for _, v := range m.list {
		v.ForgetAll()
	}
}

func (m *MultiVerifier) pick(token string) (*Verifier, error) {
	iss, err := jose.PeekIssuer(token, m.maxBytes)
	if err != nil {
		return nil, fromJose(err, "jws")
	}
	v := m.byIssuer[iss]
	if v == nil {
		issuers := make([]string, len(m.list))
		for i, v := range m.list {
			issuers[i] = v.issuer
		}
		return nil, explain(ErrWrongIssuer, "iss", jose.OneOf(issuers)+" (a verifier of the MultiVerifier)",
			quoteClaim(iss)+" (unverified)")
	}
	return v, nil
}
