package introspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/tokenwarden/tokenwarden/oidc"
)

const maxJSONDepth = 32

// checkJSON accepts exactly one JSON object that is valid UTF-8, nests at
// most maxJSONDepth deep and has no duplicate member names in any object
// (names compare byte for byte).
func checkJSON(body []byte) error {
	if !utf8.Valid(body) {
		return errors.New("body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		obj     bool
		wantKey bool
		seen    map[string]struct{}
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) != 0 {
				return errors.New("truncated json")
			}
			return nil
		}
		if err != nil {
			return errors.New("body is not JSON")
		}
		if len(stack) == 0 && tok != json.Delim('{') {
			return errors.New("body is not a JSON object")
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].obj && stack[top].wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:top]
				if len(stack) == 0 {
					break
				}
				continue
			}
			name := tok.(string) // the decoder only yields strings in key position
			if _, dup := stack[top].seen[name]; dup {
				return fmt.Errorf("duplicate member %q", sanitize(name, ""))
			}
			stack[top].seen[name] = struct{}{}
			stack[top].wantKey = false
			continue
		}
		if top >= 0 && stack[top].obj {
			stack[top].wantKey = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{obj: true, wantKey: true, seen: map[string]struct{}{}})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim(']'):
			stack = stack[:top]
		}
		if len(stack) > maxJSONDepth {
			return errors.New("nesting too deep")
		}
		if len(stack) == 0 {
			break
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

// response is a decoded RFC 7662 answer.
type response struct {
	active    bool
	result    *Result // set when active
	errMember bool    // the body carried an RFC 6749 "error" member
}

// parseResponse decodes an introspection response body received with HTTP
// 200. It checks the shape only: whether an active answer is acceptable is
// decided by Client.check. Errors do not wrap any sentinel; the caller wraps
// them with ErrInvalidResponse.
func parseResponse(body []byte) (response, error) {
	if err := checkJSON(body); err != nil {
		return response{}, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return response{}, errors.New("body is not a JSON object")
	}
	if _, ok := m["error"]; ok {
		return response{errMember: true}, nil
	}
	raw, ok := m["active"]
	if !ok {
		return response{}, errors.New(`member "active" is missing`)
	}
	switch string(bytes.TrimSpace(raw)) {
	case "false":
		return response{}, nil
	case "true":
	default:
		return response{}, errors.New(`member "active" is not the JSON literal true or false`)
	}
	claims, err := decodeClaims(body)
	if err != nil {
		return response{}, fmt.Errorf("claims: %w", err)
	}
	res := &Result{Claims: claims}
	for name, dst := range map[string]*string{"username": &res.Username, "token_type": &res.TokenType} {
		if v, ok := m[name]; ok && string(bytes.TrimSpace(v)) != "null" {
			if err := json.Unmarshal(v, dst); err != nil {
				return response{}, fmt.Errorf("member %s is not a string", name)
			}
		}
	}
	return response{active: true, result: res}, nil
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
// of a JSON object that passed checkJSON; ok is false when "error" is absent
// or not a string.
func errorMember(body []byte) (code, desc string, ok bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return "", "", false
	}
	raw, ok := m["error"]
	if !ok || json.Unmarshal(raw, &code) != nil {
		return "", "", false
	}
	if raw, has := m["error_description"]; has {
		_ = json.Unmarshal(raw, &desc)
	}
	return code, desc, true
}
