package jose

import "github.com/tokenwarden/tokenwarden/internal/strictjson"

// MaxHeaderBytes caps the encoded protected header.
const MaxHeaderBytes = 8 << 10

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

var (
	errHeaderNotObject = malformed("header is not a json object")
	errHeaderJSON      = malformed("header is not valid json")
	errHeaderDup       = malformed("duplicate header parameter")
	errHeaderCrit      = malformed("crit header parameter is not supported")
	errHeaderB64       = malformed("b64 header parameter is not supported")
	errHeaderZip       = malformed("zip header parameter is not supported")
	errHeaderNoAlg     = malformed("header has no alg")
	errHeaderLongKid   = malformed("kid too long")
)

// ParseHeader decodes a protected header strictly: a repeated or
// case-variant name, crit (even empty), b64 and zip are refused; jku, x5u,
// x5c and every other member are validated, skipped and never used.
func ParseHeader(s string) (Header, error) {
	var h Header
	r := strictjson.NewReader(s)
	if r.Peek() != '{' {
		return h, errHeaderNotObject
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
		case "crit":
			refusal = errHeaderCrit
		case "b64":
			refusal = errHeaderB64
		case "zip":
			refusal = errHeaderZip
		default:
			err = r.Skip()
		}
		if refusal != nil {
			return refusal
		}
		return err
	})
	switch {
	case err == strictjson.ErrDuplicate:
		return h, errHeaderDup
	case refusal != nil:
		return h, refusal
	case err != nil || r.End() != nil:
		return h, errHeaderJSON
	case h.Alg == "":
		return h, errHeaderNoAlg
	case len(h.Kid) > MaxKeyIDBytes:
		return h, errHeaderLongKid
	}
	return h, nil
}
