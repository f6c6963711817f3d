package jose

import "github.com/tokenwarden/tokenwarden/internal/strictjson"

// MaxHeaderBytes caps the encoded protected header.
const MaxHeaderBytes = 8 << 10

// maxHeaderValues bounds the members and array elements of a protected
// header, read before any signature check: JOSE headers hold a handful
// (a DPoP proof's jwk, an x5c chain of a few certificates), and the bound
// keeps the cost of refusing a forged header of 8 KiB of tiny members or
// elements near that of a forged signature.
const maxHeaderValues = 256

// MaxKeyIDBytes bounds a kid. Keys with a longer kid are never loaded, so a
// longer kid in a token is refused before any key lookup.
const MaxKeyIDBytes = 512

// Header is the part of a JOSE protected header this package reads.
type Header struct {
	Alg    string
	Kid    string
	Typ    string
	HasTyp bool
	// JWK is the JSON text of an embedded "jwk" member, "" when absent. A
	// verifier of tokens signed by an issuer's keys never uses it; a DPoP
	// proof (RFC 9449 §4.2) is verified with it.
	JWK string
}

// ParseHeader decodes a protected header strictly: a repeated or
// case-variant name, crit (even empty), b64 and zip, and more than 256
// members and array elements in all are refused; jku, x5u, x5c and every
// other member are validated, skipped and never used.
func ParseHeader(s string) (Header, error) {
	var h Header
	r := strictjson.NewReader(s)
	r.Limit(maxHeaderValues)
	if r.Peek() != '{' {
		return h, malformed("header is not a json object")
	}
	var refusal error
	err := r.Object(func(name string) error {
		var err error
		switch name {
		case "alg":
			h.Alg, err = r.String()
		case "kid":
			h.Kid, err = r.String()
		case "typ":
			h.Typ, err = r.String()
			h.HasTyp = true
		case "jwk":
			if r.Peek() != '{' {
				return strictjson.ErrSyntax
			}
			h.JWK, err = r.Raw()
		case "crit", "b64", "zip":
			refusal = malformed(name + " header parameter is not supported")
			return refusal
		default:
			err = r.Skip()
		}
		return err
	})
	switch {
	case err == strictjson.ErrDuplicate:
		return h, malformed("duplicate header parameter")
	case err == strictjson.ErrTooMany:
		return h, malformed("header has too many members")
	case refusal != nil:
		return h, refusal
	case err != nil || r.End() != nil:
		return h, malformed("header is not valid json")
	case h.Alg == "":
		return h, malformed("header has no alg")
	case len(h.Kid) > MaxKeyIDBytes:
		return h, malformed("kid too long")
	}
	return h, nil
}
