package adapter

import (
	"encoding/json"
	"errors"

	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

type jsonRaw = json.RawMessage

// TokenOf returns the verified identity of c as the deny-list keys it:
// (iss, jti), (iss, sid), (iss, sub), and the client (azp, else client_id).
func TokenOf(c *oidc.Claims) revocation.Token {
	client := c.AuthorizedParty
	if client == "" {
		client = c.ClientID
	}
	return revocation.Token{
		Issuer:    c.Issuer,
		ID:        c.ID,
		Subject:   c.Subject,
		SessionID: c.SessionID,
		ClientID:  client,
		IssuedAt:  c.IssuedAt,
		Expiry:    c.Expiry,
	}
}

// isTokenFault reports whether a verification error is the token's fault
// (401) rather than a failure to obtain keys (503).
func isTokenFault(err error) bool {
	var ve *oidc.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	if errors.Is(ve.Kind, oidc.ErrUnknownKey) && ve.Cause != nil {
		// The key source failed: the key set could not be had.
		return false
	}
	return true
}

// forget evicts token from c's cache when c has one.
func forget(c any, token string) {
	switch f := c.(type) {
	case interface{ Forget(string) bool }:
		f.Forget(token)
	case interface{ Forget(string) }:
		f.Forget(token)
	}
}
