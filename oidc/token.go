package oidc

import (
	"context"
	"errors"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

// maxTokenBytesLimit is the largest accepted VerifierConfig.MaxTokenBytes.
const maxTokenBytesLimit = 64 << 10

// newAlgSet parses an algorithm allow-list.
func newAlgSet(names []string) (jose.AlgSet, error) {
	s, err := jose.ParseAlgSet(names)
	if err != nil {
		return 0, errors.New("oidc: " + err.Error() + " in allow-list")
	}
	return s, nil
}

// fromJose turns a refusal of the jose package into a *ValidationError of
// check.
func fromJose(err error, check string) error {
	kind := ErrMalformed
	detail := ""
	if e, ok := err.(*jose.Error); ok {
		switch e.Kind {
		case jose.Algorithm:
			kind = ErrAlgorithm
		case jose.BadSignature:
			kind = ErrBadSignature
		}
		detail = e.Detail
	}
	return &ValidationError{Kind: kind, Detail: detail, Check: check}
}

// openJWS is the signature layer under every verification, in the order
// that keeps refusals cheap: size and shape (at most maxBytes), the header
// (alg in algs, then typ when not nil), the key named by kid and the
// signature; only then is the payload decoded, and returned. An unknown kid
// costs only the header; decoders only see payloads whose signature
// verified.
func openJWS(ctx context.Context, keys KeySource, token string, maxBytes int, algs jose.AlgSet,
	typ func(*jose.Header) error) (string, error) {
	c, err := jose.Split(token, maxBytes)
	if err != nil {
		return "", fromJose(err, "jws")
	}
	if !algs.Has(c.Alg) {
		return "", explain(ErrAlgorithm, "alg", jose.OneOf(algs.Names()), jose.Quote(c.Header.Alg))
	}
	if typ != nil {
		if err := typ(&c.Header); err != nil {
			return "", err
		}
	}
	k, err := lookupKey(ctx, keys, c.Header.Kid)
	if err != nil {
		return "", err
	}
	if k.Algorithm != c.Header.Alg {
		return "", explain(ErrAlgorithm, "alg", "the alg pinned to key "+jose.Quote(k.ID)+": "+jose.Quote(k.Algorithm),
			jose.Quote(c.Header.Alg))
	}
	if err := c.VerifySignature((*jose.Key)(k)); err != nil {
		if e, ok := err.(*jose.Error); ok && e.Kind == jose.Algorithm {
			return "", fromJose(err, "key") // the key does not fit its pinned algorithm
		}
		ve := fromJose(err, "sig").(*ValidationError)
		ve.Expected = "a signature by key " + jose.QuoteN(k.ID, maxKidRunes) + " (" + k.Algorithm + ")"
		return "", ve
	}
	text, err := c.Payload()
	if err != nil {
		return "", fromJose(err, "jws")
	}
	return text, nil
}

// maxKidRunes bounds the kid an explanation shows: a Keycloak kid (the
// base64url SHA-256 of the key) has 43 characters.
const maxKidRunes = 64

// kidLister is a KeySource that can say which kids it holds, for the
// explanation of an unknown kid.
type kidLister interface{ knownKids() string }

// lookupKey asks the KeySource for kid. An unknown kid becomes a
// ValidationError wrapping ErrUnknownKey (with the kid escaped, and the
// kids the source holds when it can say); any other KeySource error is
// returned as is.
func lookupKey(ctx context.Context, ks KeySource, kid string) (*Key, error) {
	k, err := ks.Key(ctx, kid)
	if err == nil && k != nil {
		return k, nil
	}
	if err != nil && !errors.Is(err, ErrUnknownKey) {
		// Not a property of the token (a JWKS outage, a cancelled context):
		// returned unchanged so that callers can answer 503, not 401.
		return nil, err
	}
	e := &ValidationError{Kind: ErrUnknownKey, Check: "kid", Presented: jose.QuoteN(kid, maxKidRunes)}
	if l, ok := ks.(kidLister); ok {
		e.Expected = l.knownKids()
	}
	if d, ok := err.(*droppedKey); ok {
		e.Cause = d
	}
	return nil, e
}

// verifyJWS verifies a compact JWS signature with any supported algorithm
// and returns its decoded payload, without interpreting the payload: the
// header alg must equal the key's pinned algorithm; crit, b64 and zip are
// refused, embedded keys ignored, JSON serialization refused. It makes the
// key sets go-oidc KeySets (VerifySignature).
func verifyJWS(ctx context.Context, keys KeySource, token string) ([]byte, error) {
	text, err := openJWS(ctx, keys, token, maxTokenBytesLimit, jose.AllAlgs(), nil)
	if err != nil {
		return nil, err
	}
	return []byte(text), nil
}
