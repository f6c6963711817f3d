package jose

import (
	"strings"
	"unicode/utf8"
)

// Kind is the category of an Error.
type Kind uint8

// Error categories.
const (
	Malformed    Kind = iota + 1 // not a token this package accepts
	Algorithm                    // alg not allowed, or not the key's
	BadSignature                 // the signature does not verify
)

// Error is a refusal of a token by this package.
type Error struct {
	Kind   Kind
	Detail string // short, without token text
}

func (e *Error) Error() string { return e.Detail }

func malformed(detail string) error { return &Error{Kind: Malformed, Detail: detail} }

// The refusals on the signature path are preallocated: refusing a forged
// token allocates as little as accepting one.
var (
	errBadSignature  = &Error{Kind: BadSignature}
	errAlgMismatch   = &Error{Kind: Algorithm, Detail: "header alg does not match the key's algorithm"}
	errKeyType       = &Error{Kind: Algorithm, Detail: "key type does not match alg"}
	errKeyCurve      = &Error{Kind: Algorithm, Detail: "key curve does not match alg"}
	errShortRSA      = &Error{Kind: Algorithm, Detail: "rsa key shorter than 2048 bits"}
	errNoAlg         = &Error{Kind: Algorithm}
	errNotCanonical  = &Error{Kind: Malformed, Detail: "segment is not canonical base64url"}
	errNotBase64     = &Error{Kind: Malformed, Detail: "segment is not base64url"}
	errNotCompact    = &Error{Kind: Malformed, Detail: "not a compact jws"}
	errTooLarge      = &Error{Kind: Malformed, Detail: "token too large"}
	errHeaderSize    = &Error{Kind: Malformed, Detail: "header size out of bounds"}
	errJSONSerialize = &Error{Kind: Malformed, Detail: "json serialization is not accepted"}
)

// Quote renders an attacker-supplied value for an error message: at most 32
// runes, quoted, with non-printable and non-ASCII bytes escaped.
func Quote(s string) string { return QuoteN(s, 32) }

// QuoteN is Quote with at most maxRunes runes: explanations quote whole
// issuer URLs, client ids and a DPoP proof's htu, which the operator
// compares byte for byte.
func QuoteN(s string, maxRunes int) string {
	var b strings.Builder
	b.WriteByte('"')
	n := 0
	for i := 0; i < len(s); {
		if n == maxRunes {
			b.WriteString("…")
			break
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		c := s[i]
		switch {
		case size == 1 && c >= 0x20 && c < 0x7f && c != '"' && c != '\\':
			b.WriteByte(c)
		default:
			const hex = "0123456789abcdef"
			for j := 0; j < size; j++ {
				b.WriteString(`\x`)
				b.WriteByte(hex[s[i+j]>>4])
				b.WriteByte(hex[s[i+j]&0xf])
			}
		}
		i += size
		n++
	}
	b.WriteByte('"')
	return b.String()
}

// Truncate shortens s to at most n bytes for an error message.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
