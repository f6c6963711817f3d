package jose

import (
	"crypto"
	"errors"
)

// Alg is a JWS algorithm this package verifies (RFC 7518 §3.1, RFC 8037
// §3.1). HS* and none are deliberately absent: a verifier that takes its
// keys from a JWKS never accepts them.
type Alg uint8

// The supported algorithms; AlgInvalid is every other name.
const (
	AlgInvalid Alg = iota
	RS256
	RS384
	RS512
	PS256
	PS384
	PS512
	ES256
	ES384
	ES512
	EdDSA
	algEnd
)

var algNames = [algEnd]string{
	AlgInvalid: "",
	RS256:      "RS256", RS384: "RS384", RS512: "RS512",
	PS256: "PS256", PS384: "PS384", PS512: "PS512",
	ES256: "ES256", ES384: "ES384", ES512: "ES512",
	EdDSA: "EdDSA",
}

// ParseAlg matches a registered name exactly (case-sensitive).
func ParseAlg(s string) Alg {
	for a := RS256; a < algEnd; a++ {
		if algNames[a] == s {
			return a
		}
	}
	return AlgInvalid
}

// String returns the registered name, "" for AlgInvalid.
func (a Alg) String() string {
	if a >= algEnd {
		return ""
	}
	return algNames[a]
}

// Names returns every supported algorithm name, in a fresh slice.
func Names() []string {
	out := make([]string, 0, algEnd-1)
	for a := RS256; a < algEnd; a++ {
		out = append(out, algNames[a])
	}
	return out
}

// hash is the digest the algorithm signs; 0 for EdDSA.
func (a Alg) hash() crypto.Hash {
	switch a {
	case RS256, PS256, ES256:
		return crypto.SHA256
	case RS384, PS384, ES384:
		return crypto.SHA384
	case RS512, PS512, ES512:
		return crypto.SHA512
	}
	return 0
}

func (a Alg) isRSA() bool { return a >= RS256 && a <= PS512 }
func (a Alg) isPSS() bool { return a >= PS256 && a <= PS512 }
func (a Alg) isEC() bool  { return a >= ES256 && a <= ES512 }

// AlgSet is an allow-list of algorithms.
type AlgSet uint16

// Has reports whether a is in the set (never AlgInvalid).
func (s AlgSet) Has(a Alg) bool { return a != AlgInvalid && a < algEnd && s&(1<<a) != 0 }

// Names returns the names of the algorithms in the set, in the order of
// the constants.
func (s AlgSet) Names() []string {
	var out []string
	for a := RS256; a < algEnd; a++ {
		if s.Has(a) {
			out = append(out, algNames[a])
		}
	}
	return out
}

// SetOf returns the set holding algs.
func SetOf(algs ...Alg) AlgSet {
	var s AlgSet
	for _, a := range algs {
		if a != AlgInvalid && a < algEnd {
			s |= 1 << a
		}
	}
	return s
}

// AllAlgs is the set of every supported algorithm.
func AllAlgs() AlgSet {
	var s AlgSet
	for a := RS256; a < algEnd; a++ {
		s |= 1 << a
	}
	return s
}

// ErrUnsupportedAlg reports a name that is not a supported algorithm.
var ErrUnsupportedAlg = errors.New("unsupported algorithm")

// ParseAlgSet parses an allow-list of names; an unknown name fails with
// an error wrapping ErrUnsupportedAlg that names it (quoted).
func ParseAlgSet(names []string) (AlgSet, error) {
	var s AlgSet
	for _, n := range names {
		a := ParseAlg(n)
		if a == AlgInvalid {
			return 0, &algError{name: n}
		}
		s |= 1 << a
	}
	return s, nil
}

type algError struct{ name string }

func (e *algError) Error() string { return "unsupported algorithm " + Quote(e.name) }
func (e *algError) Unwrap() error { return ErrUnsupportedAlg }
