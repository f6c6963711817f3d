package oidc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
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
	algs    []string
	minRSA  int
	maxSize int
}

// WithAlgorithms keeps only keys pinned to one of algs (after inference).
// Unsupported names in algs are ignored; an empty list keeps the default,
// every algorithm of SupportedAlgorithms.
func WithAlgorithms(algs ...string) JWKSOption {
	return func(o *jwksOptions) {
		var keep []string
		for _, a := range algs {
			if kindOf(a) != kindNone {
				keep = append(keep, a)
			}
		}
		if len(keep) > 0 {
			o.algs = keep
		}
	}
}

// WithMinRSABits raises the smallest accepted RSA modulus; values below
// MinRSAKeyBits are ignored.
func WithMinRSABits(bits int) JWKSOption {
	return func(o *jwksOptions) {
		if bits > o.minRSA {
			o.minRSA = bits
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
	o := jwksOptions{algs: SupportedAlgorithms(), minRSA: MinRSAKeyBits, maxSize: DefaultMaxJWKSBytes}
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
	n, err := readJWKS(string(data), func(i int, members map[string]jwkMember, bad *KeyError) {
		if bad == nil {
			var k *Key
			if k, bad = parseJWK(members, &o); bad == nil {
				cands = append(cands, cand{i, k})
				return
			}
		}
		bad.Index = i
		skipped = append(skipped, bad)
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
			skipped = append(skipped, &KeyError{Index: c.index, KeyID: truncate(c.key.ID, 64), Reason: SkipDuplicateKeyID,
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

// readJWKS walks a JWK Set with the package's strict JSON reader: one object,
// member names matched case-sensitively and never duplicated, exactly one
// "keys" member holding an array, other members skipped after validation.
// It calls key for each element of "keys" and returns their number. A syntax
// error anywhere rejects the whole document; an element that is not an
// object, or an object with a duplicated member, is passed on as bad.
func readJWKS(doc string, key func(i int, members map[string]jwkMember, bad *KeyError)) (int, error) {
	malformed := fmt.Errorf("%w: malformed json", ErrInvalidJWKS)
	d := &jsonReader{s: doc}
	if err := d.objStart(); err != nil {
		return 0, fmt.Errorf("%w: not a json object", ErrInvalidJWKS)
	}
	var nb [8]string
	names := nameSet{list: nb[:0]}
	seen, count := false, 0
	for first := true; ; {
		name, more, err := d.objNext(&first)
		if err != nil {
			return 0, malformed
		}
		if !more {
			break
		}
		var ok bool
		if names, ok = names.add(name); !ok {
			return 0, fmt.Errorf("%w: duplicate member %q", ErrInvalidJWKS, truncate(name, 32))
		}
		if name != "keys" {
			if d.skip() != nil {
				return 0, malformed
			}
			continue
		}
		seen = true
		if d.arrStart() != nil {
			return 0, fmt.Errorf("%w: \"keys\" is not an array", ErrInvalidJWKS)
		}
		for firstEl := true; ; count++ {
			more, err := d.arrNext(&firstEl)
			if err != nil {
				return 0, malformed
			}
			if !more {
				break
			}
			if d.peek() != '{' {
				if d.skip() != nil {
					return 0, malformed
				}
				key(count, nil, &KeyError{Reason: SkipMalformed, Detail: "not a json object"})
				continue
			}
			members, bad, err := readJWK(d)
			if err != nil {
				return 0, malformed
			}
			key(count, members, bad)
		}
	}
	if d.end() != nil {
		return 0, fmt.Errorf("%w: trailing data after the json object", ErrInvalidJWKS)
	}
	if !seen {
		return 0, fmt.Errorf("%w: no \"keys\" member", ErrInvalidJWKS)
	}
	return count, nil
}

// jwkMember is one member of a JWK: a string, an array of strings (read for
// key_ops only), or any other value (only its presence counts).
type jwkMember struct {
	kind byte // 's' string, 'a' string array, 'o' other
	str  string
	arr  []string
}

// readJWK reads one JWK object. err is a syntax error (the document is
// unusable); bad reports a duplicated member, after which the object was
// still read to its end.
func readJWK(d *jsonReader) (map[string]jwkMember, *KeyError, error) {
	if err := d.objStart(); err != nil {
		return nil, nil, err
	}
	var nb [16]string
	names := nameSet{list: nb[:0]}
	m := make(map[string]jwkMember, 8)
	var bad *KeyError
	for first := true; ; {
		name, more, err := d.objNext(&first)
		if err != nil {
			return nil, nil, err
		}
		if !more {
			return m, bad, nil
		}
		var ok bool
		if names, ok = names.add(name); !ok && bad == nil {
			bad = &KeyError{Reason: SkipMalformed, Detail: fmt.Sprintf("member %q appears twice", truncate(name, 32))}
		}
		switch c := d.peek(); {
		case c == '"':
			v, err := d.str()
			if err != nil {
				return nil, nil, err
			}
			m[name] = jwkMember{kind: 's', str: v}
		case c == '[' && name == "key_ops":
			save := *d
			if arr, err := d.strArray(); err == nil {
				m[name] = jwkMember{kind: 'a', arr: arr}
				continue
			}
			*d = save
			fallthrough
		default:
			if err := d.skip(); err != nil {
				return nil, nil, err
			}
			m[name] = jwkMember{kind: 'o'}
		}
	}
}

// member accessors for parseJWK.

// str returns a string member; ok is false when absent; err when not a string.
func memberStr(m map[string]jwkMember, name string) (v string, ok bool, err error) {
	f, ok := m[name]
	if !ok {
		return "", false, nil
	}
	if f.kind != 's' {
		return "", true, fmt.Errorf("%q is not a string", name)
	}
	return f.str, true, nil
}

// memberBytes returns a required base64url (no padding, canonical) member.
func memberBytes(m map[string]jwkMember, name string) ([]byte, error) {
	s, ok, err := memberStr(m, name)
	if err != nil {
		return nil, err
	}
	if !ok || s == "" {
		return nil, fmt.Errorf("missing %q", name)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not canonical unpadded base64url", name)
	}
	return b, nil
}

func hasMember(m map[string]jwkMember, name string) bool { _, ok := m[name]; return ok }

var privateMembers = [...]string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// parseJWK turns the members of one JWK into a Key or says why it is skipped.
func parseJWK(members map[string]jwkMember, o *jwksOptions) (*Key, *KeyError) {
	kid, _, err := memberStr(members, "kid")
	if err != nil {
		return nil, &KeyError{Reason: SkipMalformed, Detail: err.Error()}
	}
	kid = strings.Clone(kid) // do not pin the whole document
	fail := func(r SkipReason, format string, args ...any) (*Key, *KeyError) {
		return nil, &KeyError{KeyID: truncate(kid, 64), Reason: r, Detail: fmt.Sprintf(format, args...)}
	}
	if len(kid) > maxKIDLen {
		return fail(SkipLongKeyID, "kid of %d bytes", len(kid))
	}
	kty, ok, err := memberStr(members, "kty")
	if err != nil || !ok {
		return fail(SkipMalformed, "missing or non-string \"kty\"")
	}
	alg, hasAlg, err := memberStr(members, "alg")
	if err != nil {
		return fail(SkipMalformed, "%v", err)
	}
	use, hasUse, err := memberStr(members, "use")
	if err != nil {
		return fail(SkipMalformed, "%v", err)
	}
	if hasUse && use != "sig" {
		return fail(SkipNotSigning, "use %q", truncate(use, 16))
	}
	if ops, ok := members["key_ops"]; ok {
		if ops.kind != 'a' {
			return fail(SkipMalformed, "\"key_ops\" is not an array of strings")
		}
		if !slices.Contains(ops.arr, "verify") {
			return fail(SkipNotSigning, "key_ops without \"verify\"")
		}
	}
	if kty == "oct" {
		return fail(SkipSymmetric, "kty oct")
	}
	for _, m := range privateMembers {
		if hasMember(members, m) {
			return fail(SkipPrivateKey, "private member %q present", m)
		}
	}
	if hasAlg && kindOf(alg) == kindNone {
		return fail(SkipUnsupported, "alg %q", truncate(alg, 16))
	}

	var key *Key
	switch kty {
	case "RSA":
		if !hasAlg {
			alg = RS256
		} else if kindOf(alg) != kindRSA {
			return fail(SkipAlgMismatch, "alg %s on an RSA key", alg)
		}
		nb, err := memberBytes(members, "n")
		if err != nil {
			return fail(SkipMalformed, "%v", err)
		}
		eb, err := memberBytes(members, "e")
		if err != nil {
			return fail(SkipMalformed, "%v", err)
		}
		eb = bytes.TrimLeft(eb, "\x00")
		if len(eb) > 4 {
			return fail(SkipWeakKey, "rsa public exponent too large")
		}
		e := 0
		for _, b := range eb {
			e = e<<8 | int(b)
		}
		n := new(big.Int).SetBytes(nb)
		if p := rsaProblem(n, e, o.minRSA); p != "" {
			return fail(SkipWeakKey, "%s", p)
		}
		key = &Key{ID: kid, Algorithm: alg, Public: &rsa.PublicKey{N: n, E: e}}
	case "EC":
		crv, _, err := memberStr(members, "crv")
		if err != nil {
			return fail(SkipMalformed, "%v", err)
		}
		var curve elliptic.Curve
		var want string
		switch crv {
		case "P-256":
			curve, want = elliptic.P256(), ES256
		case "P-384":
			curve, want = elliptic.P384(), ES384
		case "P-521":
			curve, want = elliptic.P521(), ES512
		default:
			return fail(SkipUnsupported, "curve %q", truncate(crv, 16))
		}
		if !hasAlg {
			alg = want
		} else if alg != want {
			return fail(SkipAlgMismatch, "alg %s on curve %s", alg, crv)
		}
		x, err := memberBytes(members, "x")
		if err != nil {
			return fail(SkipMalformed, "%v", err)
		}
		y, err := memberBytes(members, "y")
		if err != nil {
			return fail(SkipMalformed, "%v", err)
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return fail(SkipInvalidPoint, "coordinates must be %d bytes for %s", size, crv)
		}
		point := make([]byte, 0, 1+2*size)
		point = append(append(append(point, 4), x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return fail(SkipInvalidPoint, "point not on %s", crv)
		}
		key = &Key{ID: kid, Algorithm: alg, Public: pub}
	case "OKP":
		crv, _, err := memberStr(members, "crv")
		if err != nil {
			return fail(SkipMalformed, "%v", err)
		}
		if crv != "Ed25519" {
			return fail(SkipUnsupported, "OKP curve %q", truncate(crv, 16))
		}
		if !hasAlg {
			alg = EdDSA
		} else if alg != EdDSA {
			return fail(SkipAlgMismatch, "alg %s on an Ed25519 key", alg)
		}
		x, err := memberBytes(members, "x")
		if err != nil {
			return fail(SkipMalformed, "%v", err)
		}
		if len(x) != ed25519.PublicKeySize {
			return fail(SkipInvalidPoint, "Ed25519 key of %d bytes", len(x))
		}
		key = &Key{ID: kid, Algorithm: alg, Public: ed25519.PublicKey(x)}
	default:
		return fail(SkipUnsupported, "kty %q", truncate(kty, 16))
	}
	if !slices.Contains(o.algs, key.Algorithm) {
		return fail(SkipUnsupported, "alg %s not in the allow-list", key.Algorithm)
	}
	return key, nil
}
