package adapter

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tokenwarden/tokenwarden/oidc"
)

// BackchannelLogoutHandler receives OpenID Connect Back-Channel Logout 1.0
// requests (POST, form logout_token). It verifies the logout token (§2.6,
// through Config.Verifier: an *oidc.Verifier or *oidc.MultiVerifier, whose
// logout audience New sets to Config.Clients), refuses a replayed (iss,
// jti) across replicas (the store's SeenOnce), and revokes the session
// (sid) or, for a token without sid, every token of the subject issued
// before the logout. It answers 200 with Cache-Control: no-store only once
// the revocation is stored.
//
// The session's cut-off is the logout token's iat plus 5 minutes (the
// largest leeway an oidc.Verifier accepts): it covers every token of the
// session, even one dated by a clock running ahead, and depends on the
// logout token alone, so a replay (refused with 400) changes nothing. The
// offline session that Keycloak keeps under the same id (its tokens carry
// offline_access in scope and are deny-listed under a session key of their
// own) survives unless the logout token carries Keycloak's
// events.revoke_offline_access.
//
// Any invalid request or token is 400 with a JSON error body (§2.8). A
// store that cannot record the revocation is 503 with Retry-After rather
// than 400: the token was valid, the failure is ours, and a sender that
// retries should. Keycloak does not retry; it logs the failed delivery. A
// Config.Verifier that cannot verify logout tokens makes every request a
// 503, and the error log says so.
func (a *Authenticator) BackchannelLogoutHandler() http.Handler {
	return a.mountMessage(backchannel{a}, messageLabels{
		log: "back-channel logout", about: aboutLogoutToken, detail: "logout_token", audit: AuditBackchannelLogout,
	})
}

// backchannel is the messageKind of BackchannelLogoutHandler.
type backchannel struct{ *Authenticator }

func (k backchannel) missing() string {
	if k.logoutTokens != nil {
		return ""
	}
	return "adapter: BackchannelLogoutHandler: Config.Verifier cannot verify logout tokens: " +
		"leave it nil (New builds one from Config.Issuer) or pass an *oidc.Verifier or *oidc.MultiVerifier"
}

func (k backchannel) read(w http.ResponseWriter, r *http.Request, limit int64) (msg, desc string) {
	return formParam(w, r, "logout_token", limit)
}

func (k backchannel) verify(r *http.Request, raw string) (*pushed, error) {
	lc, err := k.logoutTokens.VerifyLogoutToken(r.Context(), raw)
	if err != nil {
		return nil, err
	}
	// Revoke first, then record the jti, so that a revocation that failed
	// can be retried with the same token: both cut-offs derive from the
	// token alone, never from the time of arrival.
	return &pushed{
		issuer: lc.Issuer, id: lc.ID, expiry: lc.Expiry,
		revoke: func(ctx context.Context) error { return k.revoke(ctx, lc) },
		audit: func(ev *AuditEvent) {
			ev.Issuer, ev.Subject, ev.SessionID, ev.TokenID = lc.Issuer, lc.Subject, lc.SessionID, lc.ID
		},
	}, nil
}

// revoke revokes the session of lc or, without sid, every token of the
// subject issued before the logout.
func (k backchannel) revoke(ctx context.Context, lc *oidc.LogoutClaims) error {
	if lc.SessionID == "" {
		// iat has second precision: a token issued in the logout's second
		// is refused too. A later login of the subject must not be.
		return k.cfg.Store.RevokeSubject(ctx, lc.Issuer, lc.Subject, lc.IssuedAt.Add(time.Second))
	}
	// The session has ended: no token of it is issued later, but one
	// issued just before may carry a later iat from a clock running ahead
	// (another Keycloak node).
	cut := lc.IssuedAt.Add(maxClockSkew)
	if err := k.cfg.Store.RevokeSession(ctx, lc.Issuer, lc.SessionID, cut); err != nil || !lc.RevokeOfflineAccess {
		return err
	}
	// The offline session of the same id too (tokenOf).
	return k.cfg.Store.RevokeSession(ctx, lc.Issuer, offlineSession(lc.SessionID), cut)
}

// writeJSONError writes {"error","error_description"} with no-store.
func writeJSONError(w http.ResponseWriter, status int, code, desc string, retry time.Duration) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Type", "application/json")
	if retry > 0 {
		hd.Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, desc})
}

// formParam reads the single parameter name from an
// application/x-www-form-urlencoded body of at most limit bytes. desc is
// non-empty (a safe error description) on failure.
func formParam(w http.ResponseWriter, r *http.Request, name string, limit int64) (v, desc string) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return "", "form body expected"
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return "", "body too large"
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", "malformed form"
	}
	vs := form[name]
	switch {
	case len(vs) == 0 || vs[0] == "":
		return "", name + " required"
	case len(vs) > 1:
		return "", name + " repeated"
	}
	return vs[0], ""
}
