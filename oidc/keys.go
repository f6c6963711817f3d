package oidc

import (
	"context"
	"crypto"
	"errors"
	"fmt"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

// ErrUnknownKey reports that no verification key has the kid named by a
// token's header.
var ErrUnknownKey = errors.New("oidc: unknown signing key")

// ErrInvalidKey reports a verification key that is unusable: wrong type for
// its algorithm, too weak, not on its curve, or an algorithm this package
// never accepts.
var ErrInvalidKey = errors.New("oidc: invalid verification key")

// Key is one verification key from a JWKS, pinned to exactly one JWS
// algorithm. A Key is immutable once built; it is shared between goroutines
// and must not be modified.
type Key struct {
	ID        string           // kid (may be empty only for a single-key static set)
	Algorithm string           // "RS256".."PS512","ES256","ES384","ES512","EdDSA"; never empty
	Public    crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// KeySource gives the verifier the key for a kid.
type KeySource interface {
	// Key returns the key with this kid. An unknown kid may trigger at most
	// one shared fetch per cooldown; it then returns an error wrapping
	// ErrUnknownKey. It never fetches for a known kid.
	Key(ctx context.Context, kid string) (*Key, error)
}

// The JWS algorithms a Key may be pinned to (RFC 7518 §3.1, RFC 8037 §3.1).
// HS256/384/512 and none are deliberately absent: a verifier that takes keys
// from a JWKS never accepts them.
const (
	RS256 = "RS256"
	RS384 = "RS384"
	RS512 = "RS512"
	PS256 = "PS256"
	PS384 = "PS384"
	PS512 = "PS512"
	ES256 = "ES256"
	ES384 = "ES384"
	ES512 = "ES512"
	EdDSA = "EdDSA"
)

// SupportedAlgorithms returns the JWS algorithms a Key may carry, in a fresh
// slice.
func SupportedAlgorithms() []string { return jose.Names() }

// MinRSAKeyBits is the smallest RSA modulus accepted (RFC 7518 §3.3, §3.5).
const MinRSAKeyBits = jose.MinRSABits

// ValidateKey reports why k cannot serve as a verification key, or nil.
// It checks that the algorithm is supported and that the public key has the
// type, curve and strength that algorithm requires: RSA at least 2048 and at
// most 8192 bits with an odd exponent ≥ 3 and no ROCA fingerprint, ECDSA on
// the algorithm's curve, Ed25519 of the right length. The error wraps
// ErrInvalidKey.
func ValidateKey(k *Key) error {
	if err := jose.ValidateKey((*jose.Key)(k)); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return nil
}

// StaticKeySet is a fixed set of verification keys, for tests, for issuers
// without a JWKS endpoint, and for keys configured out of band. It is safe for
// concurrent use and never fetches anything.
type StaticKeySet struct {
	keys   map[string]*Key
	single *Key // set when the set holds exactly one key and it has no kid
}

// NewStaticKeySet returns a key set holding keys. Keys that fail ValidateKey
// are left out, as are keys sharing a kid with another key (all of them: a
// kid must name one key) and kid-less keys in a set of more than one key; call
// ValidateKey first to learn why a key would be left out. A set of exactly one
// key without a kid answers every kid, the empty kid included, with that key;
// the algorithm pinned to it still applies.
func NewStaticKeySet(keys ...*Key) *StaticKeySet {
	valid := make([]*Key, 0, len(keys))
	for _, k := range keys {
		if ValidateKey(k) == nil {
			valid = append(valid, k)
		}
	}
	s := &StaticKeySet{keys: make(map[string]*Key, len(valid))}
	if len(valid) == 1 && valid[0].ID == "" {
		s.single = valid[0]
		return s
	}
	dup := make(map[string]bool)
	for _, k := range valid {
		if k.ID == "" {
			continue
		}
		if _, ok := s.keys[k.ID]; ok {
			dup[k.ID] = true
			continue
		}
		s.keys[k.ID] = k
	}
	for id := range dup {
		delete(s.keys, id)
	}
	return s
}

// Key returns the key with this kid, or an error wrapping ErrUnknownKey.
func (s *StaticKeySet) Key(_ context.Context, kid string) (*Key, error) {
	if s.single != nil {
		return s.single, nil
	}
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// VerifySignature verifies a compact JWS with this key set and returns its
// payload; it makes a StaticKeySet a go-oidc KeySet.
func (s *StaticKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	return VerifyJWS(ctx, s, nil, jwt)
}

// Len returns the number of keys the set holds.
func (s *StaticKeySet) Len() int {
	if s.single != nil {
		return 1
	}
	return len(s.keys)
}
