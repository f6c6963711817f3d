package oidc

import (
	"errors"
	"fmt"
	"slices"

	"github.com/tokenwarden/tokenwarden/internal/jose"
	"github.com/tokenwarden/tokenwarden/internal/strictjson"
)

// ErrInvalidJWKS reports a JWK Set document that cannot be used at all: too
// large, not a JSON object with a "keys" array, or without a single usable key.
var ErrInvalidJWKS = errors.New("oidc: invalid jwks")

// ErrKeySkipped is wrapped by every *KeyError that ParseJWKS reports for a key
// it left out.
var ErrKeySkipped = errors.New("oidc: jwks key skipped")

// DefaultMaxJWKSBytes is the default cap on a JWK Set document. Keycloak's
// JWKS with a few RSA keys and certificate chains is well under 16 KiB.
const DefaultMaxJWKSBytes = 64 << 10

// SkipReason says why ParseJWKS left a key out.
type SkipReason string

// The reasons ParseJWKS leaves a key out.
const (
	SkipMalformed      SkipReason = "malformed"         // not a JSON object, a member of the wrong type, bad base64url, missing or duplicate members
	SkipNotSigning     SkipReason = "not a signing key" // use other than "sig", or key_ops without "verify"
	SkipSymmetric      SkipReason = "symmetric key"     // kty "oct": HS* is never accepted from a JWKS
	SkipUnsupported    SkipReason = "unsupported"       // unknown kty, alg or curve, or alg not in the allow-list
	SkipAlgMismatch    SkipReason = "alg mismatch"      // alg does not fit the key type or curve
	SkipWeakKey        SkipReason = "weak key"          // RSA modulus or exponent out of bounds, ROCA fingerprint
	SkipInvalidPoint   SkipReason = "invalid point"     // EC point not on its curve, or wrong coordinate length
	SkipPrivateKey     SkipReason = "private key"       // private key material published: anyone could sign with it
	SkipDuplicateKeyID SkipReason = "duplicate kid"     // another usable key has the same kid; all of them are left out
	SkipLongKeyID      SkipReason = "kid too long"      // kid longer than 512 bytes
)

// KeyError describes one key that ParseJWKS left out. It wraps ErrKeySkipped.
type KeyError struct {
	Index  int        // position in the "keys" array
	KeyID  string     // kid, truncated; empty when absent
	Reason SkipReason // category
	Detail string     // human-readable detail
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("oidc: jwks key %d (kid %q) skipped: %s: %s", e.Index, e.KeyID, e.Reason, e.Detail)
}

// Unwrap returns ErrKeySkipped.
func (e *KeyError) Unwrap() error { return ErrKeySkipped }

// JWKSOption adjusts ParseJWKS.
type JWKSOption func(*jwksOptions)

type jwksOptions struct {
	policy  jose.Policy
	maxSize int
}

// WithAlgorithms keeps only keys pinned to one of algs (after inference).
// Unsupported names in algs are ignored; an empty list keeps the default,
// every algorithm of SupportedAlgorithms.
func WithAlgorithms(algs ...string) JWKSOption {
	return func(o *jwksOptions) {
		var keep jose.AlgSet
		for _, a := range algs {
			keep |= jose.SetOf(jose.ParseAlg(a))
		}
		if keep != 0 {
			o.policy.Algs = keep
		}
	}
}

// WithMinRSABits raises the smallest accepted RSA modulus; values below
// MinRSAKeyBits are ignored.
func WithMinRSABits(bits int) JWKSOption {
	return func(o *jwksOptions) {
		if bits > o.policy.MinRSABits {
			o.policy.MinRSABits = bits
		}
	}
}

// WithMaxJWKSBytes changes the size cap applied before parsing
// (default DefaultMaxJWKSBytes). Values ≤ 0 are ignored.
func WithMaxJWKSBytes(n int) JWKSOption {
	return func(o *jwksOptions) {
		if n > 0 {
			o.maxSize = n
		}
	}
}

// ParseJWKS parses a JWK Set (RFC 7517 §5) into verification keys, each pinned
// to one algorithm. It is strict about the document and forgiving about
// single keys: a key that is not fit for verifying JWS signatures is left out
// and reported in skipped (each a *KeyError wrapping ErrKeySkipped), and the
// remaining keys are still returned. err (wrapping ErrInvalidJWKS) is set only
// when the document is larger than the cap, is not a JSON object with a "keys"
// array, or yields no usable key.
//
// A key is left out when:
//   - "use" is present and not "sig" (Keycloak publishes RSA-OAEP "enc" keys
//     next to its signing keys), or "key_ops" is present without "verify";
//   - kty is "oct" (HS* must never be keyed from a public JWKS), or kty, alg or
//     crv is unknown, or alg is not allowed by WithAlgorithms;
//   - alg does not fit the key (PS256 on an EC key, ES256 on P-384, …);
//   - an RSA modulus is under 2048 bits (or WithMinRSABits) or over 8192 bits,
//     even, has an exponent that is even, below 3 or above 2^31-1, or carries
//     the ROCA fingerprint;
//   - an EC point is not on its named curve or a coordinate has the wrong
//     length; an OKP key is not Ed25519 or not 32 bytes;
//   - private key material ("d", "p", "q", "dp", "dq", "qi", "oth", "k") is
//     present. A published private key lets anyone sign, so trusting it would
//     accept forgeries; the other keys of the set are independent of it and
//     stay usable. A caller with a logger should treat such a skip as an
//     incident at the identity provider;
//   - two or more otherwise usable keys share a kid: all of them are left
//     out, because a kid must select exactly one key and choosing the first or
//     the last would let whoever can add a key to the set shadow the real one;
//   - a member appears twice in one key object, or has the wrong JSON type.
//
// When "alg" is absent it is inferred only where one answer is safe: ES256,
// ES384 or ES512 from an EC key's curve, EdDSA from an Ed25519 key, and RS256
// (never PS*) for an RSA key. "x5c", "x5t", "x5u" and unknown members are
// ignored: the key is taken from its own members only and no URL is fetched.
//
// Keys may lack a kid; a kid-less key is found by the empty kid only, and two
// kid-less keys are a duplicate.
func ParseJWKS(data []byte, opts ...JWKSOption) (keys []*Key, skipped []error, err error) {
	o := jwksOptions{maxSize: DefaultMaxJWKSBytes}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if len(data) > o.maxSize {
		return nil, nil, fmt.Errorf("%w: document of %d bytes exceeds the %d byte cap", ErrInvalidJWKS, len(data), o.maxSize)
	}
	type cand struct {
		index int
		key   *Key
	}
	var cands []cand
	n, err := readJWKS(string(data), func(i int, jwk *jose.JWK) {
		skip := &jose.Skip{Reason: jose.SkipMalformed, Detail: "not a json object"}
		if jwk != nil {
			var k *jose.Key
			if k, skip = jwk.Key(o.policy); skip == nil {
				cands = append(cands, cand{i, (*Key)(k)})
				return
			}
		}
		skipped = append(skipped, &KeyError{Index: i, KeyID: skip.KeyID, Reason: SkipReason(skip.Reason), Detail: skip.Detail})
	})
	if err != nil {
		return nil, nil, err
	}
	count := make(map[string]int, len(cands))
	for _, c := range cands {
		count[c.key.ID]++
	}
	for _, c := range cands {
		if n := count[c.key.ID]; n > 1 {
			skipped = append(skipped, &KeyError{Index: c.index, KeyID: jose.Truncate(c.key.ID, 64), Reason: SkipDuplicateKeyID,
				Detail: fmt.Sprintf("%d usable keys share this kid", n)})
			continue
		}
		keys = append(keys, c.key)
	}
	slices.SortStableFunc(skipped, func(a, b error) int {
		return a.(*KeyError).Index - b.(*KeyError).Index
	})
	if len(keys) == 0 {
		return nil, skipped, fmt.Errorf("%w: no usable verification key among %d", ErrInvalidJWKS, n)
	}
	return keys, skipped, nil
}

// readJWKS walks a JWK Set with the strict JSON reader: one object, member
// names matched case-sensitively and never repeated, exactly one "keys"
// member holding an array, other members skipped after validation. It calls
// key for each element of "keys" (jwk nil for an element that is not an
// object) and returns their number. A syntax error anywhere rejects the
// whole document; a key object with a repeated member is passed on, and
// its Key method reports it.
func readJWKS(doc string, key func(i int, jwk *jose.JWK)) (int, error) {
	r := strictjson.NewReader(doc)
	if r.Peek() != '{' {
		return 0, fmt.Errorf("%w: not a json object", ErrInvalidJWKS)
	}
	seen, count := false, 0
	var shape error
	err := r.Object(func(name string) error {
		if name != "keys" {
			return r.Skip()
		}
		seen = true
		if r.Peek() != '[' {
			shape = fmt.Errorf("%w: \"keys\" is not an array", ErrInvalidJWKS)
			return shape
		}
		return r.Array(func() error {
			i := count
			count++
			if r.Peek() != '{' {
				key(i, nil)
				return r.Skip()
			}
			jwk, err := jose.ReadJWK(&r)
			if err == nil {
				key(i, &jwk)
			}
			return err
		})
	})
	switch {
	case shape != nil:
		return 0, shape
	case err == strictjson.ErrDuplicate:
		return 0, fmt.Errorf("%w: duplicate member", ErrInvalidJWKS)
	case err != nil:
		return 0, fmt.Errorf("%w: malformed json", ErrInvalidJWKS)
	case r.End() != nil:
		return 0, fmt.Errorf("%w: trailing data after the json object", ErrInvalidJWKS)
	case !seen:
		return 0, fmt.Errorf("%w: no \"keys\" member", ErrInvalidJWKS)
	}
	return count, nil
}
