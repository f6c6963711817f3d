package oidc

import (
	"context"
	"errors"
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
func (m *MultiVerifier) Forget(token string) bool {
	found := false
	for _, v := range m.list {
		found = v.Forget(token) || found
	}
	return found
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
	iss, err := peekIssuer(token, m.maxBytes)
	if err != nil {
		return nil, err
	}
	v := m.byIssuer[iss]
	if v == nil {
		return nil, verr(ErrWrongIssuer, "no verifier for this issuer")
	}
	return v, nil
}

// peekIssuer returns the iss claim of an unverified token. It applies the
// size, shape and base64url rules of splitCompact to the payload segment and
// reads only the top level of the payload.
func peekIssuer(token string, maxBytes int) (string, error) {
	if len(token) > maxBytes {
		return "", verr(ErrMalformed, "token too large")
	}
	var seg [3]int
	n := 0
	for i := 0; i < len(token); i++ {
		if token[i] == '.' {
			if n == 2 {
				return "", verr(ErrMalformed, "not a compact jws")
			}
			seg[n] = i
			n++
		}
	}
	if n != 2 {
		return "", verr(ErrMalformed, "not a compact jws")
	}
	ps := token[seg[0]+1 : seg[1]]
	pl := b64Len(len(ps))
	if pl < 0 {
		return "", verr(ErrMalformed, "segment is not base64url")
	}
	buf := make([]byte, pl)
	if !b64Decode(buf, ps) {
		return "", verr(ErrMalformed, "segment is not canonical base64url")
	}
	d := jsonReader{s: string(buf)}
	bad := verr(ErrMalformed, "claims are not valid json")
	if d.objStart() != nil {
		return "", bad
	}
	var nb [48]string
	names := nameSet{list: nb[:0]}
	iss := ""
	first := true
	for {
		name, more, err := d.objNext(&first)
		if err != nil {
			return "", bad
		}
		if !more {
			break
		}
		var ok bool
		if names, ok = names.add(name); !ok {
			return "", verr(ErrMalformed, "duplicate claim")
		}
		if name == "iss" {
			iss, err = d.str()
		} else {
			err = d.skip()
		}
		if err != nil {
			return "", bad
		}
	}
	if d.end() != nil {
		return "", bad
	}
	return iss, nil
}
