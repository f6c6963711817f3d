package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"math/big"
	"strings"
	"sync"
)

// Size limits applied before any decoding.
const (
	// DefaultMaxTokenBytes is the default cap on a token's length.
	// Keycloak access tokens with many roles stay well below it.
	DefaultMaxTokenBytes = 16 << 10
	// MaxTokenBytesLimit is the largest accepted VerifierConfig.MaxTokenBytes.
	MaxTokenBytesLimit = 64 << 10
	// maxHeaderBytes caps the encoded protected header.
	maxHeaderBytes = 8 << 10
)

type alg uint8

const (
	algInvalid alg = iota
	algRS256
	algRS384
	algRS512
	algPS256
	algPS384
	algPS512
	algES256
	algES384
	algES512
	algEdDSA
)

// parseAlg matches the registered names exactly (case-sensitive).
func parseAlg(s string) alg {
	switch s {
	case RS256:
		return algRS256
	case RS384:
		return algRS384
	case RS512:
		return algRS512
	case PS256:
		return algPS256
	case PS384:
		return algPS384
	case PS512:
		return algPS512
	case ES256:
		return algES256
	case ES384:
		return algES384
	case ES512:
		return algES512
	case EdDSA:
		return algEdDSA
	}
	return algInvalid
}

// algSet is an allow-list of algorithms as a bit set.
type algSet uint16

func (s algSet) has(a alg) bool { return a != algInvalid && s&(1<<a) != 0 }

func newAlgSet(names []string) (algSet, error) {
	var s algSet
	for _, n := range names {
		a := parseAlg(n)
		if a == algInvalid {
			return 0, errors.New("oidc: unsupported algorithm in allow-list " + quoteUntrusted(n))
		}
		s |= 1 << a
	}
	return s, nil
}

func allAsymmetric() algSet {
	var s algSet
	for a := algRS256; a <= algEdDSA; a++ {
		s |= 1 << a
	}
	return s
}

// header is the part of the JOSE header this package reads.
type header struct {
	alg    string
	kid    string
	typ    string
	hasTyp bool
}

// parseHeader decodes the protected header strictly: duplicate names, crit,
// b64 and zip are refused; jwk, jku, x5u, x5c and every other member are
// skipped and never used.
func parseHeader(s string) (header, error) {
	var h header
	d := jsonReader{s: s}
	if err := d.objStart(); err != nil {
		return h, verr(ErrMalformed, "header is not a json object")
	}
	var nb [16]string
	names := nameSet{list: nb[:0]}
	first := true
	for {
		name, more, err := d.objNext(&first)
		if err != nil {
			return h, verr(ErrMalformed, "header is not valid json")
		}
		if !more {
			break
		}
		var ok bool
		if names, ok = names.add(name); !ok {
			return h, verr(ErrMalformed, "duplicate header parameter")
		}
		switch name {
		case "alg":
			h.alg, err = d.str()
		case "kid":
			h.kid, err = d.str()
		case "typ":
			h.typ, err = d.str()
			h.hasTyp = true
		case "crit":
			return h, verr(ErrMalformed, "crit header parameter is not supported")
		case "b64":
			return h, verr(ErrMalformed, "b64 header parameter is not supported")
		case "zip":
			return h, verr(ErrMalformed, "zip header parameter is not supported")
		default:
			err = d.skip()
		}
		if err != nil {
			return h, verr(ErrMalformed, "header is not valid json")
		}
	}
	if d.end() != nil {
		return h, verr(ErrMalformed, "header is not valid json")
	}
	if h.alg == "" {
		return h, verr(ErrMalformed, "header has no alg")
	}
	if len(h.kid) > maxKIDLen {
		return h, verr(ErrMalformed, "kid too long")
	}
	return h, nil
}

// b64tab maps a byte to its base64url value (RFC 4648 §5), 0xff for bytes
// outside the alphabet. A constant string, so it cannot be modified.
const b64tab = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x3e\xff\xff\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\xff\xff\xff\xff\xff\xff" +
	"\xff\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\xff\xff\xff\xff\x3f" +
	"\xff\x1a\x1b\x1c\x1d\x1e\x1f\x20\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f\x30\x31\x32\x33\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"

// b64val maps a base64url character to its value, or 0xff.
func b64val(c byte) uint32 { return uint32(b64tab[c]) }

// b64Len returns the decoded length of n base64url characters, or -1 when n
// cannot be the length of an unpadded encoding.
func b64Len(n int) int {
	switch n % 4 {
	case 0:
		return n / 4 * 3
	case 2:
		return n/4*3 + 1
	case 3:
		return n/4*3 + 2
	}
	return -1
}

// b64Decode decodes canonical unpadded base64url (RFC 7515 §2) from src into
// dst, which must have length b64Len(len(src)). Padding, whitespace, any
// other character and non-zero unused trailing bits are refused, so every
// byte string has exactly one accepted spelling.
func b64Decode(dst []byte, src string) bool {
	n := len(src) / 4 * 4
	j := 0
	for i := 0; i < n; i += 4 {
		a, b, c, e := b64val(src[i]), b64val(src[i+1]), b64val(src[i+2]), b64val(src[i+3])
		if a|b|c|e > 63 {
			return false
		}
		v := a<<18 | b<<12 | c<<6 | e
		dst[j] = byte(v >> 16)
		dst[j+1] = byte(v >> 8)
		dst[j+2] = byte(v)
		j += 3
	}
	switch len(src) - n {
	case 0:
	case 2:
		a, b := b64val(src[n]), b64val(src[n+1])
		if a|b > 63 || b&0x0f != 0 {
			return false
		}
		dst[j] = byte(a<<2 | b>>4)
	case 3:
		a, b, c := b64val(src[n]), b64val(src[n+1]), b64val(src[n+2])
		if a|b|c > 63 || c&0x03 != 0 {
			return false
		}
		dst[j] = byte(a<<2 | b>>4)
		dst[j+1] = byte(b<<4 | c>>2)
	default:
		return false
	}
	return true
}

// compact is a compact JWS split into its segments with a decoded, parsed
// header. The order of work is header, key, signature, payload: an unknown
// kid costs only the header, and the claims decoder only ever sees payloads
// whose signature verified.
type compact struct {
	token  string
	d1, d2 int // positions of the two dots
	hdr    header
	alg    alg // parsed hdr.alg; algInvalid when not a supported name
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// splitCompact checks the size cap, the three-segment shape and the segment
// lengths, then decodes (canonical base64url only) and parses the header.
// Nothing else is decoded yet.
func splitCompact(token string, maxBytes int) (compact, error) {
	var c compact
	if len(token) > maxBytes {
		return c, verr(ErrMalformed, "token too large")
	}
	if len(token) > 0 && token[0] == '{' {
		return c, verr(ErrMalformed, "json serialization is not accepted")
	}
	d1 := strings.IndexByte(token, '.')
	if d1 < 0 {
		return c, verr(ErrMalformed, "not a compact jws")
	}
	d2 := strings.IndexByte(token[d1+1:], '.')
	if d2 < 0 {
		return c, verr(ErrMalformed, "not a compact jws")
	}
	d2 += d1 + 1
	if strings.IndexByte(token[d2+1:], '.') >= 0 {
		return c, verr(ErrMalformed, "not a compact jws")
	}
	hs := token[:d1]
	if len(hs) == 0 || len(hs) > maxHeaderBytes {
		return c, verr(ErrMalformed, "header size out of bounds")
	}
	hl := b64Len(len(hs))
	if hl < 0 || b64Len(d2-d1-1) < 0 || b64Len(len(token)-d2-1) <= 0 {
		return c, verr(ErrMalformed, "segment is not base64url")
	}
	var stack [512]byte
	var hb []byte
	if hl <= len(stack) {
		hb = stack[:hl]
	} else {
		hb = make([]byte, hl)
	}
	if !b64Decode(hb, hs) {
		return c, verr(ErrMalformed, "segment is not canonical base64url")
	}
	h, err := parseHeader(string(hb))
	if err != nil {
		return c, err
	}
	return compact{token: token, d1: d1, d2: d2, hdr: h, alg: parseAlg(h.alg)}, nil
}

// verifySignature decodes the signature segment (canonical base64url only)
// and checks it over the signing input with k, whose pinned algorithm must
// equal the header's.
func (c *compact) verifySignature(k *Key) error {
	ss := c.token[c.d2+1:]
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := append((*bp)[:0], c.token[:c.d2]...)
	buf = append(buf, make([]byte, b64Len(len(ss)))...)
	*bp = buf
	input, sig := buf[:c.d2], buf[c.d2:]
	if !b64Decode(sig, ss) {
		return verr(ErrMalformed, "segment is not canonical base64url")
	}
	return checkSignature(k, c.alg, c.hdr.alg, input, sig)
}

// payload decodes the payload segment (canonical base64url only) and
// returns it as bytes and as a string of the same content.
func (c *compact) payload() ([]byte, string, error) {
	ps := c.token[c.d1+1 : c.d2]
	raw := make([]byte, b64Len(len(ps)))
	if !b64Decode(raw, ps) {
		return nil, "", verr(ErrMalformed, "segment is not canonical base64url")
	}
	return raw, string(raw), nil
}

// checkJWS runs the signature layer: header, allow-list, key, signature.
func checkJWS(ctx context.Context, keys KeySource, algs algSet, c *compact) error {
	if !algs.has(c.alg) {
		return verr(ErrAlgorithm, "alg "+quoteUntrusted(c.hdr.alg)+" not allowed")
	}
	k, err := lookupKey(ctx, keys, c.hdr.kid)
	if err != nil {
		return err
	}
	return c.verifySignature(k)
}

// lookupKey asks the KeySource for kid. An unknown kid becomes a
// ValidationError wrapping ErrUnknownKey (with the kid escaped); any other
// KeySource error is returned as is.
func lookupKey(ctx context.Context, ks KeySource, kid string) (*Key, error) {
	k, err := ks.Key(ctx, kid)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			return nil, &ValidationError{Kind: ErrUnknownKey, Detail: "kid " + quoteUntrusted(kid)}
		}
		// Not a property of the token (a JWKS outage, a cancelled context):
		// returned unchanged so that callers can answer 503, not 401.
		return nil, err
	}
	if k == nil {
		return nil, &ValidationError{Kind: ErrUnknownKey, Detail: "kid " + quoteUntrusted(kid)}
	}
	return k, nil
}

// checkSignature verifies sig over input with k for the header algorithm a
// (named hdrAlg). The key's pinned algorithm must equal the header's.
func checkSignature(k *Key, a alg, hdrAlg string, input, sig []byte) error {
	if k.Algorithm != hdrAlg {
		return verr(ErrAlgorithm, "header alg does not match the key's algorithm")
	}
	var h crypto.Hash
	switch a {
	case algRS256, algPS256, algES256:
		h = crypto.SHA256
	case algRS384, algPS384, algES384:
		h = crypto.SHA384
	case algRS512, algPS512, algES512:
		h = crypto.SHA512
	case algEdDSA:
		pub, ok := k.Public.(ed25519.PublicKey)
		if !ok || len(pub) != ed25519.PublicKeySize {
			return verr(ErrAlgorithm, "key type does not match alg")
		}
		if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, input, sig) {
			return verr(ErrBadSignature, "")
		}
		return nil
	default:
		return verr(ErrAlgorithm, "")
	}
	var sum [64]byte
	var digest []byte
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(input)
		digest = append(sum[:0], s[:]...)
	case crypto.SHA384:
		s := sha512.Sum384(input)
		digest = append(sum[:0], s[:]...)
	default:
		s := sha512.Sum512(input)
		digest = append(sum[:0], s[:]...)
	}
	switch a {
	case algRS256, algRS384, algRS512, algPS256, algPS384, algPS512:
		pub, ok := k.Public.(*rsa.PublicKey)
		if !ok || pub.N == nil {
			return verr(ErrAlgorithm, "key type does not match alg")
		}
		if pub.N.BitLen() < 2048 {
			return verr(ErrAlgorithm, "rsa key shorter than 2048 bits")
		}
		if len(sig) != pub.Size() {
			return verr(ErrBadSignature, "")
		}
		var err error
		if a <= algRS512 {
			err = rsa.VerifyPKCS1v15(pub, h, digest, sig)
		} else {
			err = rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: h.Size(), Hash: h})
		}
		if err != nil {
			return verr(ErrBadSignature, "")
		}
		return nil
	default: // ES*
		pub, ok := k.Public.(*ecdsa.PublicKey)
		if !ok || pub.Curve == nil {
			return verr(ErrAlgorithm, "key type does not match alg")
		}
		var curve elliptic.Curve
		switch a {
		case algES256:
			curve = elliptic.P256()
		case algES384:
			curve = elliptic.P384()
		default:
			curve = elliptic.P521()
		}
		if pub.Curve != curve {
			return verr(ErrAlgorithm, "key curve does not match alg")
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return verr(ErrBadSignature, "")
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return verr(ErrBadSignature, "")
		}
		return nil
	}
}

// VerifyJWS verifies a compact JWS signature and returns its decoded payload,
// without interpreting the payload. The header must name an algorithm in
// algs (nil: every asymmetric algorithm) that equals the key's pinned
// algorithm; crit, b64 and zip are refused, embedded keys ignored, JSON
// serialization refused. It is the signature layer under Verifier and is
// exported for protocols whose payload is not a JWT claims set.
func VerifyJWS(ctx context.Context, keys KeySource, algs []string, token string) ([]byte, error) {
	set := allAsymmetric()
	if algs != nil {
		var err error
		if set, err = newAlgSet(algs); err != nil {
			return nil, err
		}
	}
	c, err := splitCompact(token, MaxTokenBytesLimit)
	if err != nil {
		return nil, err
	}
	if err := checkJWS(ctx, keys, set, &c); err != nil {
		return nil, err
	}
	raw, _, err := c.payload()
	return raw, err
}
