package jose

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/tokenwarden/tokenwarden/internal/strictjson"
)

// SkipReason says why a JWK is not usable as a verification key.
type SkipReason string

// The reasons a JWK is left out.
const (
	SkipMalformed      SkipReason = "malformed"         // not a JSON object, a member of the wrong type, bad base64url, missing or repeated members
	SkipNotSigning     SkipReason = "not a signing key" // use other than "sig", or key_ops without "verify"
	SkipSymmetric      SkipReason = "symmetric key"     // kty "oct": HS* is never accepted from a JWKS
	SkipUnsupported    SkipReason = "unsupported"       // unknown kty, alg or curve, or alg not allowed
	SkipAlgMismatch    SkipReason = "alg mismatch"      // alg does not fit the key type or curve
	SkipWeakKey        SkipReason = "weak key"          // RSA modulus or exponent out of bounds, ROCA fingerprint
	SkipInvalidPoint   SkipReason = "invalid point"     // EC point not on its curve, or wrong coordinate length
	SkipPrivateKey     SkipReason = "private key"       // private key material published: anyone could sign with it
	SkipDuplicateKeyID SkipReason = "duplicate kid"     // another usable key of the set has the same kid
	SkipLongKeyID      SkipReason = "kid too long"      // kid longer than MaxKeyIDBytes
)

// Skip says why one JWK is not usable.
type Skip struct {
	Reason SkipReason
	KeyID  string // kid, truncated; empty when absent
	Detail string
}

func (s *Skip) Error() string { return string(s.Reason) + ": " + s.Detail }

// JWK holds the members of one JWK object as read: strings, key_ops as an
// array of strings, and the presence of any other member.
type JWK struct {
	members map[string]member
	dup     string // the first repeated member name
}

type member struct {
	kind byte // 's' string, 'a' string array, 'o' other
	str  string
	arr  []string
}

// ReadJWK reads one JWK object at r. A syntax error (which makes the whole
// document unusable) is returned as err; a repeated member name makes only
// this key unusable (Key reports it), and the object is read to its end.
func ReadJWK(r *strictjson.Reader) (JWK, error) {
	j := JWK{members: make(map[string]member, 8)}
	err := r.ObjectDup(func(name string) error {
		switch c := r.Peek(); {
		case c == '"':
			v, err := r.String()
			j.members[name] = member{kind: 's', str: v}
			return err
		case c == '[' && name == "key_ops":
			save := *r
			if arr, err := r.Strings(); err == nil {
				j.members[name] = member{kind: 'a', arr: arr}
				return nil
			}
			*r = save
		}
		j.members[name] = member{kind: 'o'}
		return r.Skip()
	}, func(name string) error {
		if j.dup == "" {
			j.dup = name
		}
		return nil
	})
	return j, err
}

// str returns a string member; ok is false when absent; err when not a string.
func (j JWK) str(name string) (v string, ok bool, err error) {
	f, ok := j.members[name]
	if !ok {
		return "", false, nil
	}
	if f.kind != 's' {
		return "", true, fmt.Errorf("%q is not a string", name)
	}
	return f.str, true, nil
}

// bytes returns a required canonical unpadded base64url member.
func (j JWK) bytes(name string) ([]byte, error) {
	s, ok, err := j.str(name)
	if err != nil {
		return nil, err
	}
	if !ok || s == "" {
		return nil, fmt.Errorf("missing %q", name)
	}
	b, ok := DecodeString(s)
	if !ok {
		return nil, fmt.Errorf("%q is not canonical unpadded base64url", name)
	}
	return b, nil
}

var privateMembers = [...]string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// Policy restricts the keys that JWK.Key returns.
type Policy struct {
	// Algs is the allow-list; zero means every supported algorithm.
	Algs AlgSet
	// MinRSABits raises the smallest accepted RSA modulus above MinRSABits.
	MinRSABits int
	// Alg, when set, is the algorithm the key is pinned to (a DPoP proof's
	// header alg): an absent "alg" takes it, a present one must equal it.
	Alg Alg
}

// Key turns the JWK into a verification key pinned to one algorithm, or says
// why it is not usable. A key is left out when "use" is present and not
// "sig" or "key_ops" lacks "verify"; when kty is "oct" or kty, alg or crv is
// unknown or alg is not allowed; when alg does not fit the key; when an RSA
// modulus or exponent is out of bounds or carries the ROCA fingerprint; when
// an EC point is off its curve or an OKP key is not a 32-byte Ed25519 key;
// when private key material is present; when a member is repeated or has the
// wrong type. An absent alg is inferred only where one answer is safe: ES*
// from the curve, EdDSA from Ed25519, RS256 (never PS*) for RSA. x5c, x5t,
// x5u and unknown members are ignored.
func (j JWK) Key(p Policy) (*Key, *Skip) {
	kid, _, err := j.str("kid")
	if err != nil {
		return nil, &Skip{Reason: SkipMalformed, Detail: err.Error()}
	}
	kid = strings.Clone(kid) // do not pin the whole document
	fail := func(r SkipReason, format string, args ...any) (*Key, *Skip) {
		return nil, &Skip{KeyID: Truncate(kid, 64), Reason: r, Detail: fmt.Sprintf(format, args...)}
	}
	if j.dup != "" {
		return fail(SkipMalformed, "member %q appears twice", Truncate(j.dup, 32))
	}
	if len(kid) > MaxKeyIDBytes {
		return fail(SkipLongKeyID, "kid of %d bytes", len(kid))
	}
	kty, ok, err := j.str("kty")
	if err != nil || !ok {
		return fail(SkipMalformed, "missing or non-string \"kty\"")
	}
	algName, hasAlg, err := j.str("alg")
	if err != nil {
		return fail(SkipMalformed, "%v", err)
	}
	use, hasUse, err := j.str("use")
	if err != nil {
		return fail(SkipMalformed, "%v", err)
	}
	if hasUse && use != "sig" {
		return fail(SkipNotSigning, "use %q", Truncate(use, 16))
	}
	if ops, ok := j.members["key_ops"]; ok {
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
		if _, ok := j.members[m]; ok {
			return fail(SkipPrivateKey, "private member %q present", m)
		}
	}
	alg := ParseAlg(algName)
	if hasAlg && alg == AlgInvalid {
		return fail(SkipUnsupported, "alg %q", Truncate(algName, 16))
	}
	if p.Alg != AlgInvalid {
		if hasAlg && alg != p.Alg {
			return fail(SkipAlgMismatch, "alg %s, want %s", alg, p.Alg)
		}
		alg, hasAlg = p.Alg, true
	}

	// The key type and curve decide which algorithms the key may carry;
	// want is the one inferred when alg is absent.
	var want Alg
	crv, _, crvErr := j.str("crv")
	switch kty {
	case "RSA":
		want = RS256
	case "EC", "OKP":
		if crvErr != nil {
			return fail(SkipMalformed, "%v", crvErr)
		}
		if want = curveAlg(kty, crv); want == AlgInvalid {
			return fail(SkipUnsupported, "%s curve %q", kty, Truncate(crv, 16))
		}
	default:
		return fail(SkipUnsupported, "kty %q", Truncate(kty, 16))
	}
	switch {
	case !hasAlg:
		alg = want
	case kty == "RSA" && !alg.isRSA(), kty != "RSA" && alg != want:
		return fail(SkipAlgMismatch, "alg %s on a %s %s key", alg, kty, crv)
	}
	var pub any
	var why SkipReason
	var detail string
	switch kty {
	case "RSA":
		pub, why, detail = j.rsaPublic(max(p.MinRSABits, MinRSABits))
	case "EC":
		pub, why, detail = j.ecPublic(curveOf(alg), crv)
	default:
		pub, why, detail = j.ed25519Public()
	}
	if why != "" {
		return fail(why, "%s", detail)
	}
	key := &Key{ID: kid, Algorithm: alg.String(), Public: pub}
	if p.Algs != 0 && !p.Algs.Has(alg) {
		return fail(SkipUnsupported, "alg %s not in the allow-list", alg)
	}
	return key, nil
}

// curveAlg is the algorithm of an EC or OKP curve, AlgInvalid for another.
func curveAlg(kty, crv string) Alg {
	switch kty + " " + crv {
	case "EC P-256":
		return ES256
	case "EC P-384":
		return ES384
	case "EC P-521":
		return ES512
	case "OKP Ed25519":
		return EdDSA
	}
	return AlgInvalid
}

// material returns the base64url members names, or says which one is
// missing or malformed.
func (j JWK) material(names ...string) ([][]byte, string) {
	out := make([][]byte, len(names))
	for i, n := range names {
		b, err := j.bytes(n)
		if err != nil {
			return nil, err.Error()
		}
		out[i] = b
	}
	return out, ""
}

// rsaPublic builds an RSA key of at least minBits from n and e.
func (j JWK) rsaPublic(minBits int) (any, SkipReason, string) {
	m, bad := j.material("n", "e")
	if bad != "" {
		return nil, SkipMalformed, bad
	}
	eb := bytes.TrimLeft(m[1], "\x00")
	if len(eb) > 4 {
		return nil, SkipWeakKey, "rsa public exponent too large"
	}
	e := 0
	for _, b := range eb {
		e = e<<8 | int(b)
	}
	n := new(big.Int).SetBytes(m[0])
	if pr := rsaProblem(n, e, minBits); pr != "" {
		return nil, SkipWeakKey, pr
	}
	return &rsa.PublicKey{N: n, E: e}, "", ""
}

// ecPublic builds an ECDSA key on curve from x and y.
func (j JWK) ecPublic(curve elliptic.Curve, crv string) (any, SkipReason, string) {
	m, bad := j.material("x", "y")
	if bad != "" {
		return nil, SkipMalformed, bad
	}
	size := (curve.Params().BitSize + 7) / 8
	if len(m[0]) != size || len(m[1]) != size {
		return nil, SkipInvalidPoint, fmt.Sprintf("coordinates must be %d bytes for %s", size, crv)
	}
	point := append(append(append(make([]byte, 0, 1+2*size), 4), m[0]...), m[1]...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, SkipInvalidPoint, "point not on " + crv
	}
	return pub, "", ""
}

// ed25519Public builds an Ed25519 key from x.
func (j JWK) ed25519Public() (any, SkipReason, string) {
	m, bad := j.material("x")
	if bad != "" {
		return nil, SkipMalformed, bad
	}
	if len(m[0]) != ed25519.PublicKeySize {
		return nil, SkipInvalidPoint, fmt.Sprintf("Ed25519 key of %d bytes", len(m[0]))
	}
	return ed25519.PublicKey(m[0]), "", ""
}

// ParseJWK parses the JSON text of one JWK (such as the jwk member of a
// DPoP proof's header) into a verification key under p. Errors are *Skip
// values, or *Error for text that is not a JSON object.
func ParseJWK(text string, p Policy) (*Key, error) {
	r := strictjson.NewReader(text)
	if r.Peek() != '{' {
		return nil, malformed("jwk is not a json object")
	}
	j, err := ReadJWK(&r)
	if err != nil || r.End() != nil {
		return nil, malformed("jwk is not valid json")
	}
	k, skip := j.Key(p)
	if skip != nil {
		return nil, skip
	}
	return k, nil
}

// Thumbprint returns the RFC 7638 JWK SHA-256 thumbprint of a public key,
// base64url-encoded (the value of a DPoP-bound token's cnf.jkt, RFC 9449
// §6.1): the hash of PublicJWK, computed from the key material itself, so
// every JWK spelling of one key (member order, extra members, leading zero
// bytes) has the same thumbprint.
func Thumbprint(pub any) (string, error) {
	j, err := PublicJWK(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(j))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// PublicJWK returns the JWK of a public key with only its required
// members, in lexicographic order and without whitespace (RFC 7638 §3.2):
// the input of its thumbprint, and a valid JWK to embed in a header.
func PublicJWK(pub any) (string, error) {
	var b strings.Builder
	enc := base64.RawURLEncoding
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil || k.E <= 0 {
			return "", errors.New("incomplete rsa key")
		}
		e := big.NewInt(int64(k.E)).Bytes()
		fmt.Fprintf(&b, `{"e":"%s","kty":"RSA","n":"%s"}`, enc.EncodeToString(e), enc.EncodeToString(k.N.Bytes()))
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return "", errors.New("incomplete ecdsa key")
		}
		var crv string
		switch k.Curve {
		case elliptic.P256():
			crv = "P-256"
		case elliptic.P384():
			crv = "P-384"
		case elliptic.P521():
			crv = "P-521"
		default:
			return "", errors.New("unsupported curve")
		}
		pt, err := k.Bytes()
		if err != nil {
			return "", err
		}
		size := (len(pt) - 1) / 2
		fmt.Fprintf(&b, `{"crv":"%s","kty":"EC","x":"%s","y":"%s"}`, crv,
			enc.EncodeToString(pt[1:1+size]), enc.EncodeToString(pt[1+size:]))
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", errors.New("ed25519 key of the wrong length")
		}
		fmt.Fprintf(&b, `{"crv":"Ed25519","kty":"OKP","x":"%s"}`, enc.EncodeToString(k))
	default:
		return "", fmt.Errorf("unsupported key type %T", pub)
	}
	return b.String(), nil
}
