package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
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
func SupportedAlgorithms() []string {
	return []string{RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA}
}

// MinRSAKeyBits is the smallest RSA modulus accepted (RFC 7518 §3.3, §3.5).
const MinRSAKeyBits = 2048

// maxRSAKeyBits bounds the cost of one RSA verification an attacker-chosen
// token can cause; no deployed IdP uses more.
const maxRSAKeyBits = 8192

// maxKIDLen bounds a kid. Keys with a longer kid are skipped when a JWKS is
// loaded, so a longer kid in a token is unknown without any fetch.
const maxKIDLen = 512

// algKind classifies an algorithm by the key type it needs.
type algKind uint8

const (
	kindNone algKind = iota
	kindRSA
	kindEC
	kindEd25519
)

func kindOf(alg string) algKind {
	switch alg {
	case RS256, RS384, RS512, PS256, PS384, PS512:
		return kindRSA
	case ES256, ES384, ES512:
		return kindEC
	case EdDSA:
		return kindEd25519
	}
	return kindNone
}

// curveFor returns the curve an ES* algorithm requires (RFC 7518 §3.4).
func curveFor(alg string) elliptic.Curve {
	switch alg {
	case ES256:
		return elliptic.P256()
	case ES384:
		return elliptic.P384()
	case ES512:
		return elliptic.P521()
	}
	return nil
}

// ValidateKey reports why k cannot serve as a verification key, or nil.
// It checks that the algorithm is supported and that the public key has the
// type, curve and strength that algorithm requires: RSA at least 2048 and at
// most 8192 bits with an odd exponent ≥ 3 and no ROCA fingerprint, ECDSA on
// the algorithm's curve, Ed25519 of the right length. The error wraps
// ErrInvalidKey.
func ValidateKey(k *Key) error {
	if k == nil {
		return fmt.Errorf("%w: nil key", ErrInvalidKey)
	}
	if len(k.ID) > maxKIDLen {
		return fmt.Errorf("%w: kid longer than %d bytes", ErrInvalidKey, maxKIDLen)
	}
	switch kindOf(k.Algorithm) {
	case kindRSA:
		pub, ok := k.Public.(*rsa.PublicKey)
		if !ok || pub == nil || pub.N == nil {
			return fmt.Errorf("%w: %s needs an rsa public key", ErrInvalidKey, k.Algorithm)
		}
		if p := rsaProblem(pub.N, pub.E, MinRSAKeyBits); p != "" {
			return fmt.Errorf("%w: %s", ErrInvalidKey, p)
		}
		return nil
	case kindEC:
		pub, ok := k.Public.(*ecdsa.PublicKey)
		if !ok || pub == nil || pub.Curve == nil {
			return fmt.Errorf("%w: %s needs an ecdsa public key", ErrInvalidKey, k.Algorithm)
		}
		want := curveFor(k.Algorithm)
		if pub.Curve != want {
			return fmt.Errorf("%w: %s needs curve %s", ErrInvalidKey, k.Algorithm, want.Params().Name)
		}
		point, err := pub.Bytes()
		if err != nil {
			return fmt.Errorf("%w: ecdsa point not encodable", ErrInvalidKey)
		}
		if _, err := ecdsa.ParseUncompressedPublicKey(want, point); err != nil {
			return fmt.Errorf("%w: ecdsa point not on %s", ErrInvalidKey, want.Params().Name)
		}
		return nil
	case kindEd25519:
		pub, ok := k.Public.(ed25519.PublicKey)
		if !ok || len(pub) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: EdDSA needs an ed25519 public key", ErrInvalidKey)
		}
		return nil
	}
	return fmt.Errorf("%w: algorithm %q not supported", ErrInvalidKey, truncate(k.Algorithm, 16))
}

// rsaProblem applies the modulus and exponent rules shared by ValidateKey and
// the JWKS loader; it returns what is wrong, or "".
func rsaProblem(n *big.Int, e int, minBits int) string {
	bits := n.BitLen()
	switch {
	case bits < minBits:
		return fmt.Sprintf("rsa modulus of %d bits, want at least %d", bits, minBits)
	case bits > maxRSAKeyBits:
		return fmt.Sprintf("rsa modulus of %d bits, want at most %d", bits, maxRSAKeyBits)
	case n.Bit(0) == 0:
		return "rsa modulus is even"
	case e < 3 || e&1 == 0 || e > 1<<31-1:
		return "rsa public exponent must be odd, at least 3 and below 2^31"
	case rocaFingerprint(n):
		return "rsa modulus has the ROCA fingerprint (CVE-2017-15361)"
	}
	return ""
}

// rocaPrimes are the small primes that divide the ROCA generator's M for every
// key size; a modulus from the vulnerable generator lies, modulo each of
// them, in the subgroup generated by 65537 (Nemec et al., CCS 2017).
var rocaPrimes = [...]uint32{3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71,
	73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167}

// rocaFingerprint reports whether n matches the ROCA fingerprint. A random
// modulus matches with probability about 2^-154.
func rocaFingerprint(n *big.Int) bool {
	var r, p big.Int
	for _, prime := range rocaPrimes {
		p.SetUint64(uint64(prime))
		res := r.Mod(n, &p).Uint64()
		// Walk the subgroup generated by 65537 mod prime.
		g := uint64(65537 % prime)
		x := uint64(1)
		found := false
		for range prime {
			if x == res {
				found = true
				break
			}
			x = x * g % uint64(prime)
			if x == 1 {
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
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

// truncate shortens s to at most n bytes for use in an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
