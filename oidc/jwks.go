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

// defaultMaxJWKSBytes is the default cap on a JWK Set document. Keycloak's
// JWKS with a few RSA keys and certificate chains is well under 16 KiB.
const defaultMaxJWKSBytes = 64 << 10

// skippedKey is the error ParseJWKS reports for a key it left out.
type skippedKey struct {
	index int
	skip  *jose.Skip
}

func (e *skippedKey) Error() string {
	return fmt.Sprintf("oidc: jwks key %d (kid %q) skipped: %s", e.index, e.skip.KeyID, e.skip.Error())
}

// ParseJWKS parses a JWK Set (RFC 7517 §5) into verification keys, each pinned
// to one algorithm. It is strict about the document and forgiving about
// single keys: a key that is not fit for verifying JWS signatures is left out
// and reported in skipped, one error per key whose text gives its position,
// kid and why ("oidc: jwks key 2 (kid "k") skipped: private key: private
// member "d" present"), and the remaining keys are still returned. err
// (wrapping ErrInvalidJWKS) is set only when the document is larger than
// 64 KiB, is not a JSON object with a "keys" array, or yields no usable key.
// Every supported algorithm is allowed and RSA keys need 2048 bits; a
// RemoteKeySet narrows both (KeySetConfig.Algorithms, MinRSABits).
//
// A key is left out when:
//   - "use" is present and not "sig" (Keycloak publishes RSA-OAEP "enc" keys
//     next to its signing keys), or "key_ops" is present without "verify";
//   - kty is "oct" (HS* must never be keyed from a public JWKS), or kty, alg or
//     crv is unknown;
//   - alg does not fit the key (PS256 on an EC key, ES256 on P-384, …);
//   - an RSA modulus is under 2048 bits or over 8192 bits,
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
func ParseJWKS(data []byte) (keys []*Key, skipped []error, err error) {
	return parseJWKS(data, jose.Policy{}, defaultMaxJWKSBytes)
}

// parseJWKS is ParseJWKS under policy p with a size cap of maxSize bytes.
func parseJWKS(data []byte, p jose.Policy, maxSize int) (keys []*Key, skipped []error, err error) {
	if len(data) > maxSize {
		return nil, nil, fmt.Errorf("%w: document of %d bytes exceeds the %d byte cap", ErrInvalidJWKS, len(data), maxSize)
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
			if k, skip = jwk.Key(p); skip == nil {
				cands = append(cands, cand{i, (*Key)(k)})
				return
			}
		}
		skipped = append(skipped, &skippedKey{index: i, skip: skip})
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
			skipped = append(skipped, &skippedKey{index: c.index, skip: &jose.Skip{KeyID: jose.Truncate(c.key.ID, 64),
				Reason: jose.SkipDuplicateKeyID, Detail: fmt.Sprintf("%d usable keys share this kid", n)}})
			continue
		}
		keys = append(keys, c.key)
	}
	slices.SortStableFunc(skipped, func(a, b error) int {
		return a.(*skippedKey).index - b.(*skippedKey).index
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
