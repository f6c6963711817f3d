package introspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tokenwarden/tokenwarden/oidc"
)

// decodeClaims decodes the claims of an active introspection response. It is
// the one place that turns response JSON into *oidc.Claims, so that it can
// delegate to the oidc package's strict decoder once that is available.
// The caller has already run checkJSON on payload (syntax, duplicate names,
// depth).
func decodeClaims(payload []byte) (*oidc.Claims, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, err
	}
	c := new(oidc.Claims)
	var err error
	str := func(name string, dst *string) {
		if err != nil {
			return
		}
		if raw, ok := m[name]; ok && !isNull(raw) {
			if e := json.Unmarshal(raw, dst); e != nil {
				err = fmt.Errorf("claim %s is not a string", name)
			}
		}
	}
	date := func(name string, dst *time.Time) {
		if err != nil {
			return
		}
		if raw, ok := m[name]; ok && !isNull(raw) {
			t, e := numericDate(raw)
			if e != nil {
				err = fmt.Errorf("claim %s: %w", name, e)
				return
			}
			*dst = t
		}
	}
	str("iss", &c.Issuer)
	str("sub", &c.Subject)
	str("jti", &c.ID)
	str("sid", &c.SessionID)
	str("azp", &c.AuthorizedParty)
	str("client_id", &c.ClientID)
	str("typ", &c.Type)
	str("scope", &c.Scope)
	str("preferred_username", &c.PreferredUsername)
	str("email", &c.Email)
	date("exp", &c.Expiry)
	date("iat", &c.IssuedAt)
	date("nbf", &c.NotBefore)
	date("auth_time", &c.AuthTime)
	if err != nil {
		return nil, err
	}
	if raw, ok := m["aud"]; ok && !isNull(raw) {
		if c.Audience, err = audience(raw); err != nil {
			return nil, err
		}
	}
	if raw, ok := m["realm_access"]; ok && !isNull(raw) {
		var ra struct {
			Roles []string `json:"roles"`
		}
		if err := strictUnmarshal(raw, &ra); err != nil {
			return nil, errors.New("claim realm_access is malformed")
		}
		c.RealmRoles = ra.Roles
	}
	if raw, ok := m["resource_access"]; ok && !isNull(raw) {
		var ra map[string]json.RawMessage
		if err := json.Unmarshal(raw, &ra); err != nil {
			return nil, errors.New("claim resource_access is malformed")
		}
		c.ClientRoles = make(map[string][]string, len(ra))
		for client, v := range ra {
			var cr struct {
				Roles []string `json:"roles"`
			}
			if err := strictUnmarshal(v, &cr); err != nil {
				return nil, errors.New("claim resource_access is malformed")
			}
			c.ClientRoles[client] = cr.Roles
		}
	}
	if raw, ok := m["cnf"]; ok && !isNull(raw) {
		var cm map[string]json.RawMessage
		if err := json.Unmarshal(raw, &cm); err != nil {
			return nil, errors.New("claim cnf is malformed")
		}
		cnf := new(oidc.Confirmation)
		for name, dst := range map[string]*string{"jkt": &cnf.JKT, "x5t#S256": &cnf.X5TSHA256} {
			if v, ok := cm[name]; ok {
				if err := json.Unmarshal(v, dst); err != nil {
					return nil, errors.New("claim cnf is malformed")
				}
			}
		}
		c.Confirmation = cnf
	}
	return c, nil
}

// strictUnmarshal decodes an object with exactly-named members: encoding/json
// matches names case-insensitively, so the one member this package reads
// ("roles") is looked up in a map instead.
func strictUnmarshal(raw json.RawMessage, v *struct {
	Roles []string `json:"roles"`
}) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	if r, ok := m["roles"]; ok && !isNull(r) {
		return json.Unmarshal(r, &v.Roles)
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func audience(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, errors.New("claim aud is malformed")
		}
		return []string{s}, nil
	}
	var a []string
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, errors.New("claim aud is neither a string nor an array of strings")
	}
	return a, nil
}

// maxNumericDate is 9999-12-31T23:59:59Z.
const maxNumericDate = 253402300799

// numericDate accepts a non-negative JSON integer no larger than
// maxNumericDate: no fraction, no exponent, no string.
func numericDate(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || len(raw) > 12 {
		return time.Time{}, errors.New("not an integer numeric date")
	}
	for _, b := range raw {
		if b < '0' || b > '9' {
			return time.Time{}, errors.New("not an integer numeric date")
		}
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n > maxNumericDate {
		return time.Time{}, errors.New("numeric date out of range")
	}
	return time.Unix(n, 0), nil
}
