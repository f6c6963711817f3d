package introspect

import (
	"errors"
	"fmt"

	"github.com/tokenwarden/tokenwarden/internal/jose"
	"github.com/tokenwarden/tokenwarden/internal/strictjson"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// response is a decoded RFC 7662 answer.
type response struct {
	active    bool
	result    *Result // set when active
	errMember bool    // the body carried an RFC 6749 "error" member
}

var (
	errActiveType    = errors.New(`member "active" is not the JSON literal true or false`)
	errActiveMissing = errors.New(`member "active" is missing`)
)

// parseResponse decodes an introspection response body received with HTTP
// 200 in one strict pass: the claims with the decoder of the local verifier
// (so a claim reads the same whether a token was verified locally or
// introspected: case-sensitive names, no name repeated in any object, not
// even in another letter case, integer NumericDates, aud as a string or an
// array), and the members of RFC 7662 and RFC 6749 next to them. It checks
// the shape only: whether an active answer is acceptable is decided by
// Client.check. Errors do not wrap any sentinel; the caller wraps them with
// ErrInvalidResponse.
func parseResponse(body []byte) (response, error) {
	var (
		r         response
		hasActive bool
		res       Result
		own       error // a refusal of one of the members read here
	)
	var x jose.Extras
	claims, err := jose.DecodeWith(string(body), &x, func(name string, rd *strictjson.Reader) (bool, error) {
		var err error
		switch name {
		case "active":
			hasActive = true
			if r.active, err = rd.Bool(); err != nil {
				own = errActiveType
			}
		case "error":
			r.errMember = true
			err = rd.Skip()
		case "username", "token_type":
			dst := &res.Username
			if name == "token_type" {
				dst = &res.TokenType
			}
			if !rd.Null() {
				if *dst, err = rd.String(); err != nil {
					own = fmt.Errorf("member %s is not a string", name)
				}
			}
		default:
			return false, nil
		}
		return true, err
	})
	switch {
	case own != nil:
		return response{}, own
	case err != nil:
		return response{}, err
	case r.errMember:
		return response{errMember: true}, nil
	case !hasActive:
		return response{}, errActiveMissing
	case !r.active:
		return response{}, nil
	}
	res.Claims = (*oidc.Claims)(claims)
	r.result = &res
	return r, nil
}

// Result is the answer to an introspection of an active token that passed
// this client's checks. It is shared between callers when cached and must
// not be modified.
type Result struct {
	// Claims are the token's claims as the authorization server reported
	// them; Keycloak reports the full set even for lightweight tokens.
	Claims *oidc.Claims
	// Username is the "username" member (Keycloak: the user's username).
	Username string
	// TokenType is the "token_type" member, e.g. "Bearer".
	TokenType string
}

// errorMember returns the RFC 6749 "error" and "error_description" members
// of a JSON object read strictly; ok is false when the body is not such an
// object or "error" is absent or not a string.
func errorMember(body []byte) (code, desc string, ok bool) {
	r := strictjson.NewReader(string(body))
	err := r.Object(func(name string) error {
		var err error
		switch name {
		case "error":
			code, err = r.String()
			ok = err == nil
		case "error_description":
			if r.Peek() == '"' {
				desc, err = r.String()
			} else {
				err = r.Skip()
			}
		default:
			err = r.Skip()
		}
		return err
	})
	if err != nil || r.End() != nil {
		return "", "", false
	}
	return code, desc, ok
}
