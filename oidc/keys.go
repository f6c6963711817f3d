package oidc

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

// ErrUnknownKey reports that no verification key has the kid named by a
// token's header.
var ErrUnknownKey = errors.New("oidc: unknown signing key")

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

// StaticKeySet is a fixed set of verification keys, for tests, for issuers
// without a JWKS endpoint, and for keys configured out of band. It is safe for
// concurrent use and never fetches anything.
type StaticKeySet struct {
	kids    string // the explanation of an unknown kid: the kids held
	keys    map[string]*Key
	single  *Key              // set when the set holds exactly one key and it has no kid
	dropped map[string]string // kid → why NewStaticKeySet left its key out
}

// NewStaticKeySet returns a key set holding keys. A key is left out unless
// its algorithm is one of the constants above and its public key has the
// type, curve and strength that algorithm requires (RSA of 2048 to 8192 bits
// with an odd exponent ≥ 3 and no ROCA fingerprint, ECDSA on the algorithm's
// curve, Ed25519 of 32 bytes) and its kid is at most 512 bytes; keys sharing
// a kid with another key are left out too (all of them: a kid must name one
// key), as are kid-less keys in a set of more than one key. Asked for the kid
// of a key it left out, Key fails with ErrUnknownKey and an error that says
// why (a verifier's ValidationError carries it as Cause). A set of exactly
// one key without a kid answers every kid, the empty kid included, with that
// key; the algorithm pinned to it still applies.
func NewStaticKeySet(keys ...*Key) *StaticKeySet {
	s := &StaticKeySet{keys: make(map[string]*Key, len(keys)), dropped: make(map[string]string)}
	valid := make([]*Key, 0, len(keys))
	for _, k := range keys {
		if k == nil {
			continue
		}
		if err := jose.ValidateKey((*jose.Key)(k)); err != nil {
			s.dropped[k.ID] = err.Error()
			continue
		}
		valid = append(valid, k)
	}
	if len(valid) == 1 && valid[0].ID == "" {
		s.single = valid[0]
		return s
	}
	defer func() { s.kids = kidsOf(s.keys) + " (static key set)" }()
	count := make(map[string]int, len(valid))
	for _, k := range valid {
		count[k.ID]++
	}
	for _, k := range valid {
		switch {
		case k.ID == "":
			s.dropped[""] = "a key without a kid in a set of more than one key"
		case count[k.ID] > 1:
			s.dropped[k.ID] = fmt.Sprintf("%d keys share this kid", count[k.ID])
		default:
			s.keys[k.ID] = k
		}
	}
	return s
}

// droppedKey is the error for the kid of a key NewStaticKeySet left out.
type droppedKey struct{ kid, why string }

func (e *droppedKey) Error() string {
	return "oidc: static key set left out the key " + jose.Quote(e.kid) + ": " + e.why
}

func (e *droppedKey) Unwrap() error { return ErrUnknownKey }

// Key returns the key with this kid, or an error wrapping ErrUnknownKey.
func (s *StaticKeySet) Key(_ context.Context, kid string) (*Key, error) {
	if s.single != nil {
		return s.single, nil
	}
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	if why, ok := s.dropped[kid]; ok {
		return nil, &droppedKey{kid: kid, why: why}
	}
	return nil, ErrUnknownKey
}

func (s *StaticKeySet) knownKids() string { return s.kids }

// kidsOf renders the kids of a key set for an explanation, sorted.
func kidsOf(keys map[string]*Key) string {
	return jose.OneOf(slices.Sorted(maps.Keys(keys)))
}

// VerifySignature verifies a compact JWS with this key set and returns its
// payload; it makes a StaticKeySet a go-oidc KeySet.
func (s *StaticKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	return verifyJWS(ctx, s, jwt)
}
