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

// fromJose turns a refusal of the jose package into a *ValidationError.
func fromJose(err error) error {
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
	return &ValidationError{Kind: kind, Detail: detail}
}

// split runs jose.Split and checks the header alg against algs.
func split(token string, maxBytes int, algs jose.AlgSet) (jose.Compact, error) {
	c, err := jose.Split(token, maxBytes)
	if err != nil {
		return c, fromJose(err)
	}
	if !algs.Has(c.Alg) {
		return c, verr(ErrAlgorithm, "alg "+jose.Quote(c.Header.Alg)+" not allowed")
	}
	return c, nil
}

// checkSignature looks up the key named by the header and verifies the
// signature with it.
func checkSignature(ctx context.Context, keys KeySource, c *jose.Compact) error {
	k, err := lookupKey(ctx, keys, c.Header.Kid)
	if err != nil {
		return err
	}
	if err := c.VerifySignature((*jose.Key)(k)); err != nil {
		return fromJose(err)
	}
	return nil
}

// payload decodes the payload of a verified token.
func payload(c *jose.Compact) (string, error) {
	text, err := c.Payload()
	if err != nil {
		return "", fromJose(err)
	}
	return text, nil
}

// lookupKey asks the KeySource for kid. An unknown kid becomes a
// ValidationError wrapping ErrUnknownKey (with the kid escaped); any other
// KeySource error is returned as is.
func lookupKey(ctx context.Context, ks KeySource, kid string) (*Key, error) {
	k, err := ks.Key(ctx, kid)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			e := &ValidationError{Kind: ErrUnknownKey, Detail: "kid " + jose.Quote(kid)}
			if d, ok := err.(*droppedKey); ok {
				e.Cause = d
			}
			return nil, e
		}
		// Not a property of the token (a JWKS outage, a cancelled context):
		// returned unchanged so that callers can answer 503, not 401.
		return nil, err
	}
	if k == nil {
		return nil, &ValidationError{Kind: ErrUnknownKey, Detail: "kid " + jose.Quote(kid)}
	}
	return k, nil
}

// verifyJWS verifies a compact JWS signature with any supported algorithm
// and returns its decoded payload, without interpreting the payload: the
// header alg must equal the key's pinned algorithm; crit, b64 and zip are
// refused, embedded keys ignored, JSON serialization refused. It makes the
// key sets go-oidc KeySets (VerifySignature).
func verifyJWS(ctx context.Context, keys KeySource, token string) ([]byte, error) {
	c, err := split(token, maxTokenBytesLimit, jose.AllAlgs())
	if err != nil {
		return nil, err
	}
	if err := checkSignature(ctx, keys, &c); err != nil {
		return nil, err
	}
	text, err := payload(&c)
	return []byte(text), err
}
