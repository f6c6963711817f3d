package adapter

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// tokenOf returns the verified identity of c as the deny-list keys it:
// (iss, jti), (iss, sid), (iss, sub), and the client (azp, else client_id).
//
// The session of a token minted from an offline session (its scope holds
// offline_access) is OfflineSession(sid): Keycloak gives an offline
// session the id of the online session it was requested in, and ends the
// two separately, so the end of the online session (a back-channel logout
// without revoke_offline_access) must not refuse the offline session's
// tokens.
//
// A token with neither jti nor sid gets, as its ID, a digest of its
// verified payload ("sha256:" and the unpadded base64url SHA-256 of
// c.Raw), so that it can still be deny-listed on its own. The digest is
// of what was signed, not of the token string: a token respelt (another
// valid signature of the same payload, such as ECDSA's (r, n−s)) has the
// same digest. Without a payload (claims built by hand) the ID stays empty.
func tokenOf(c *oidc.Claims) revocation.Token {
	client := c.AuthorizedParty
	if client == "" {
		client = c.ClientID
	}
	id := c.ID
	if id == "" && c.SessionID == "" {
		id = payloadDigest(c)
	}
	sid := c.SessionID
	if sid != "" && c.HasScope("offline_access") {
		sid = offlineSession(sid)
	}
	return revocation.Token{
		Issuer:    c.Issuer,
		ID:        id,
		Subject:   c.Subject,
		SessionID: sid,
		ClientID:  client,
		IssuedAt:  c.IssuedAt,
		Expiry:    c.Expiry,
	}
}

// offlineSession is the deny-list session key of the tokens of the
// offline session sid. Keycloak session ids hold no ':', so the key is
// never another session's.
func offlineSession(sid string) string { return "offline:" + sid }

// payloadDigest returns the deny-list ID of a token without jti, or "" when
// c does not hold its payload. The prefix sets it apart from the UUIDs an
// issuer such as Keycloak puts in jti.
func payloadDigest(c *oidc.Claims) string {
	if c.Raw == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(c.Raw))
	return "sha256:" + base64.RawURLEncoding.EncodeToString(sum[:])
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
