package jose

import (
	"strings"
	"sync"
)

// Compact is a compact JWS (RFC 7515 §7.1) split into its segments, with
// its protected header decoded and parsed. Split does the work in the order
// that keeps refusals cheap: size, shape, header; the caller then looks up
// the key, checks the signature (VerifySignature) and only then decodes the
// payload, so that a payload decoder only ever sees signed payloads.
type Compact struct {
	Token  string
	Header Header
	Alg    Alg // parsed Header.Alg; AlgInvalid when not a supported name
	d1, d2 int // positions of the two dots
}

// DefaultMaxTokenBytes is the default cap on a token's length, shared by the
// verifier and the introspection client: Keycloak access tokens with many
// roles stay well below it.
const DefaultMaxTokenBytes = 16 << 10

// Segments checks the size cap and the three-segment shape of a compact
// JWS and returns the positions of its two dots.
func Segments(token string, maxBytes int) (d1, d2 int, err error) {
	if len(token) > maxBytes {
		return 0, 0, errTooLarge
	}
	if len(token) > 0 && token[0] == '{' {
		return 0, 0, errJSONSerialize
	}
	d1 = strings.IndexByte(token, '.')
	if d1 < 0 {
		return 0, 0, errNotCompact
	}
	d2 = strings.IndexByte(token[d1+1:], '.')
	if d2 < 0 {
		return 0, 0, errNotCompact
	}
	d2 += d1 + 1
	if strings.IndexByte(token[d2+1:], '.') >= 0 {
		return 0, 0, errNotCompact
	}
	return d1, d2, nil
}

// Split checks the size cap (maxBytes), the shape and the segment lengths
// of token, then decodes (canonical base64url only) and parses the header.
// Nothing else is decoded.
func Split(token string, maxBytes int) (Compact, error) {
	var c Compact
	d1, d2, err := Segments(token, maxBytes)
	if err != nil {
		return c, err
	}
	hs := token[:d1]
	if len(hs) == 0 || len(hs) > MaxHeaderBytes {
		return c, errHeaderSize
	}
	hl := DecodedLen(len(hs))
	if hl < 0 || DecodedLen(d2-d1-1) < 0 || DecodedLen(len(token)-d2-1) <= 0 {
		return c, errNotBase64
	}
	var stack [512]byte
	var hb []byte
	if hl <= len(stack) {
		hb = stack[:hl]
	} else {
		hb = make([]byte, hl)
	}
	if !Decode(hb, hs) {
		return c, errNotCanonical
	}
	h, err := ParseHeader(string(hb))
	if err != nil {
		return c, err
	}
	return Compact{Token: token, Header: h, Alg: ParseAlg(h.Alg), d1: d1, d2: d2}, nil
}

// SigningInput returns the signed part of the token: header "." payload.
func (c *Compact) SigningInput() string { return c.Token[:c.d2] }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// VerifySignature decodes the signature segment (canonical base64url only)
// and checks it over the signing input with k, whose pinned algorithm must
// equal the header's.
func (c *Compact) VerifySignature(k *Key) error {
	ss := c.Token[c.d2+1:]
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	// One pooled buffer: signing input, signature, room for the digest.
	n := c.d2 + DecodedLen(len(ss))
	buf := append((*bp)[:0], c.Token[:c.d2]...)
	buf = append(buf, make([]byte, n-c.d2+64)...)
	*bp = buf
	input, sig, scratch := buf[:c.d2], buf[c.d2:n], buf[n:n]
	if !Decode(sig, ss) {
		return errNotCanonical
	}
	return verify(k, c.Alg, c.Header.Alg, input, sig, scratch)
}

// Payload decodes the payload segment (canonical base64url only).
func (c *Compact) Payload() (string, error) {
	return DecodeSegmentString(c.Token[c.d1+1 : c.d2])
}

// DecodeSegment decodes one segment of a compact JWS (canonical base64url).
func DecodeSegment(s string) ([]byte, error) {
	n := DecodedLen(len(s))
	if n < 0 {
		return nil, errNotBase64
	}
	b := make([]byte, n)
	if !Decode(b, s) {
		return nil, errNotCanonical
	}
	return b, nil
}

// DecodeSegmentString decodes one segment of a compact JWS (canonical
// base64url) into a string, through a pooled buffer: one allocation.
func DecodeSegmentString(s string) (string, error) {
	n := DecodedLen(len(s))
	if n < 0 {
		return "", errNotBase64
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := append((*bp)[:0], make([]byte, n)...)
	*bp = buf
	if !Decode(buf, s) {
		return "", errNotCanonical
	}
	return string(buf), nil
}
