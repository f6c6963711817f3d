package jose

import "github.com/tokenwarden/tokenwarden/internal/strictjson"

// maxPeekMembers bounds the top-level members of a payload peeked at before
// its signature is verified; no issuer puts a thousand claims in a token.
const maxPeekMembers = 1024

// PeekIssuer returns the iss claim of an unverified token, "" when absent.
// It applies the size, shape and base64url rules of Split to the payload
// segment and reads the top level of the payload strictly (a repeated or
// case-variant name is refused, in linear time; at most 1024 members), and
// member values for their structure only. Refusing a forged payload
// therefore costs about what verifying a signature over it does, however it
// packs its bytes. The issuer is unverified: use it to pick a verifier, or
// to explain a refusal, never to trust anything.
func PeekIssuer(token string, maxBytes int) (string, error) {
	d1, d2, err := Segments(token, maxBytes)
	if err != nil {
		return "", err
	}
	text, err := DecodeSegmentString(token[d1+1 : d2])
	if err != nil {
		return "", err
	}
	r := strictjson.NewReader(text)
	r.Limit(maxPeekMembers)
	iss := ""
	err = r.Object(func(name string) error {
		if name != "iss" {
			return r.SkipStructure()
		}
		var err error
		iss, err = r.String()
		return err
	})
	switch {
	case err == strictjson.ErrDuplicate:
		return "", malformed("duplicate claim")
	case err == strictjson.ErrTooMany:
		return "", malformed("too many claims")
	case err != nil || r.End() != nil:
		return "", malformed("claims are not valid json")
	}
	return iss, nil
}
