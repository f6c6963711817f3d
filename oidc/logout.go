package oidc

import (
	"context"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

// LogoutClaims are the claims of a verified back-channel logout token.
type LogoutClaims struct {
	Issuer    string    // iss
	Audience  []string  // aud
	Subject   string    // sub; may be empty when SessionID is set
	SessionID string    // sid; may be empty when Subject is set
	ID        string    // jti, for replay detection by the receiver
	IssuedAt  time.Time // iat
	Expiry    time.Time // exp
	// RevokeOfflineAccess is Keycloak's events.revoke_offline_access: the
	// user's offline sessions were revoked as well.
	RevokeOfflineAccess bool
}

// VerifyLogoutToken verifies a logout token as OpenID Connect Back-Channel
// Logout 1.0 §2.6 asks, with Keycloak's shape: header typ "logout+jwt"
// (unless LogoutTokenConfig.AllowMissingTyp and the typ is absent), the same
// algorithm and key rules as Verify, exact iss, aud containing one of the
// logout audience client ids, required iat (not in the future beyond the
// leeway, not older than LogoutTokenConfig.MaxAge), exp and jti, sub and/or sid,
// an events object containing the back-channel logout member (an object;
// siblings such as revoke_offline_access are allowed), no nonce, and a
// payload typ, when present, of "Logout". Replay of jti is for the caller
// to detect (the verifier keeps no state).
func (v *Verifier) VerifyLogoutToken(ctx context.Context, raw string) (*LogoutClaims, error) {
	now := v.now()
	var x jose.Extras
	c, err := v.openClaims(ctx, raw, v.logoutTyp, &x)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Type != "" && c.Type != "Logout":
		return nil, explain(ErrWrongType, "typ", `"Logout" or absent`, quoteClaim(c.Type))
	case !x.Events || !x.LogoutEvent:
		return nil, explain(ErrWrongType, "events", "an object with the member "+jose.QuoteValue(jose.BackchannelLogoutEvent), "no such member")
	case x.Nonce:
		return nil, explain(ErrWrongType, "nonce", absent, "present")
	case !x.HasIat:
		return nil, missing("iat")
	case !x.HasExp:
		return nil, missing("exp")
	case c.ID == "":
		return nil, missing("jti")
	case c.Subject == "" && c.SessionID == "":
		return nil, explain(ErrMalformed, "sub", "sub or sid present", "neither")
	}
	if len(v.logoutAud) == 0 || !containsAny(c.Audience, v.logoutAud) {
		return nil, explain(ErrWrongAudience, "aud", jose.OneOf(v.logoutAud)+" in aud", jose.QuoteList(c.Audience))
	}
	if err := v.checkTimes(c, now); err != nil {
		return nil, err
	}
	if now.Sub(c.IssuedAt) > v.logoutMaxAge+v.leeway {
		return nil, explain(ErrExpired, "iat", jose.NotBefore(now, v.logoutMaxAge, v.leeway), jose.Time(c.IssuedAt))
	}
	return &LogoutClaims{
		Issuer:              c.Issuer,
		Audience:            c.Audience,
		Subject:             c.Subject,
		SessionID:           c.SessionID,
		ID:                  c.ID,
		IssuedAt:            c.IssuedAt,
		Expiry:              c.Expiry,
		RevokeOfflineAccess: x.RevokeOffline,
	}, nil
}

// logoutTyp requires the header typ logout+jwt (its absence only with
// LogoutTokenConfig.AllowMissingTyp).
func (v *Verifier) logoutTyp(h *jose.Header) error {
	if h.HasTyp && !typIs(h.Typ, "logout+jwt") || !h.HasTyp && !v.logoutNoTyp {
		want := `"logout+jwt"`
		if v.logoutNoTyp {
			want += " or absent"
		}
		return explain(ErrWrongType, "header.typ", want, headerTyp(h))
	}
	return nil
}
