package adapter

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/tokenwarden/tokenwarden/introspect"
)

// Revoker revokes a token at the authorization server (RFC 7009).
// *introspect.Client implements it.
type Revoker interface {
	Revoke(ctx context.Context, token, hint string) error
}

// LogoutOptions configures LogoutHandler.
type LogoutOptions struct {
	// By default LogoutHandler also revokes the access token at the
	// authorization server, so that introspecting resource servers see it
	// at once (this API's replicas learn it from the deny-list), best
	// effort: a failure is logged and the logout succeeds.
	//
	// SkipAccessTokenRevocation does not send the access token there (it
	// is still deny-listed here).
	SkipAccessTokenRevocation bool
	// RequireAccessTokenRevocation fails the logout (503) when that
	// revocation fails. SkipAccessTokenRevocation wins over it.
	RequireAccessTokenRevocation bool
	// RevokeSession also refuses every token of the access token's
	// session (sid) on every replica, not only this access token: every
	// token issued up to 5 minutes (the largest leeway an oidc.Verifier
	// accepts) after the logout, so that one dated later by an issuer clock
	// running ahead is covered too. A Keycloak session that ended never
	// comes back.
	RevokeSession bool
}

// maxClockSkew is how far ahead of this host's clock a token's iat may be
// and still verify: the largest leeway an oidc.Verifier accepts. A session
// cut-off reaches that far past the logout, so that no token of the session
// survives a clock that runs ahead.
const maxClockSkew = 5 * time.Minute

// LogoutHandler serves an app backend's logout endpoint: POST, the access
// token as a bearer token (as Config.Extractor reads it), and the refresh
// token in an application/x-www-form-urlencoded body as refresh_token. It
//
//  1. verifies the access token with Config.Verifier (signature, issuer,
//     audience, expiry; the deny-list is not consulted: logging out twice
//     succeeds twice);
//  2. deny-lists it until it expires (by jti; without jti by its session),
//     and with Logout.RevokeSession its session, so every replica refuses
//     it;
//  3. revokes the refresh token at the authorization server (RFC 7009)
//     with the revoker of the access token's client (azp), then the access
//     token (unless Logout.SkipAccessTokenRevocation);
//  4. evicts the access token from the verifier's and introspector's
//     caches;
//  5. answers 204.
//
// It is idempotent. A failure of the store or the authorization server is
// a 503 with Retry-After: the client retries; nothing is reported done that
// was not. The access token is deny-listed before the authorization server
// is called, so a 503 may follow a local revocation that did happen. An expired access token is refused (401): the app should revoke
// its refresh token directly at the authorization server then. A token of
// a client with no revoker (Config.Clients, Config.Revokers) is refused
// with 400; without any revoker every request is answered 503 and the
// error log names the fields to set.
func (a *Authenticator) LogoutHandler() http.Handler {
	h := logoutHandler{a}
	return a.mount(h, h.missing())
}

type logoutHandler struct{ *Authenticator }

func (h logoutHandler) missing() string {
	if len(h.revokers) > 0 {
		return ""
	}
	return "adapter: LogoutHandler has no revoker: set Config.Clients (with Config.Issuer) or Config.Revokers"
}

func (h logoutHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.accept(w, r, h.missing()) {
		return
	}
	ctx := r.Context()
	token, sch, err := h.cfg.Extractor.extract(r, true)
	// Every refusal offers the challenges of the route's schemes, the
	// error in the one the request used.
	refuse := func(e *AuthError) {
		e.used, e.dpopOnly = sch, h.dpopRequired(r)
		h.refuse(w, r, e)
	}
	if err != nil {
		refuse(extractError(err))
		return
	}
	if sch == schemeBearer && h.dpopRequired(r) {
		refuse(h.bearerRefused(r, token))
		return
	}
	c, err := h.cfg.Verifier.Verify(ctx, token)
	if err != nil {
		refuse(h.verifyFailed(r, token, err))
		return
	}
	if sch == schemeDPoP || bound(c) {
		// A DPoP-bound token logs out only with its key's proof: a copied
		// token cannot end the session either.
		if e := h.bind(r, token, sch, c, c); e != nil {
			refuse(e)
			return
		}
	}
	refresh, e := h.refreshToken(w, r)
	if e != nil {
		refuse(e)
		return
	}
	t := tokenOf(c)
	rv := h.revokers[t.ClientID]
	if rv == nil {
		h.logLimited(ctx, slog.LevelWarn, "adapter: logout: no revoker for the token's client: add it to Config.Clients or Config.Revokers",
			slog.String("client", t.ClientID))
		refuse(&AuthError{Status: http.StatusBadRequest, Code: codeInvalidRequest,
			Description: "logout not available for this client", Reason: ReasonMalformedRequest})
		return
	}

	// The access token first: it dies on every replica even when the
	// authorization server is down.
	if t.ID != "" {
		if err := h.cfg.Store.RevokeToken(ctx, c.Issuer, t.ID, c.Expiry); err != nil {
			h.storeFailed(w, r, "deny-list the access token", err)
			return
		}
	}
	if (h.cfg.Logout.RevokeSession || t.ID == "") && t.SessionID != "" {
		if err := h.cfg.Store.RevokeSession(ctx, c.Issuer, t.SessionID, h.now().Add(maxClockSkew)); err != nil {
			h.storeFailed(w, r, "revoke the session", err)
			return
		}
	} else if t.ID == "" {
		// Nothing identifies this token alone: refuse rather than claim it
		// is revoked.
		refuse(&AuthError{Status: http.StatusBadRequest, Code: codeInvalidRequest,
			Description: "token has neither jti nor sid", Reason: ReasonMalformedRequest})
		return
	}
	h.forget(token)

	if err := rv.Revoke(ctx, refresh, introspect.HintRefreshToken); err != nil {
		h.upstreamFailed(w, r, sch, "refresh token", err)
		return
	}
	if !h.cfg.Logout.SkipAccessTokenRevocation {
		if err := rv.Revoke(ctx, token, introspect.HintAccessToken); err != nil {
			if h.cfg.Logout.RequireAccessTokenRevocation {
				h.upstreamFailed(w, r, sch, "access token", err)
				return
			}
			h.log.LogAttrs(ctx, slog.LevelWarn, "adapter: logout: access token revocation failed; deny-listed locally",
				slog.String("error", err.Error()))
		}
	}
	h.audit.emit(ctx, h.event(r, AuditLogout, ReasonOK, c))
	h.succeed(w, http.StatusNoContent)
}

// refreshToken reads the single refresh_token form parameter.
func (h logoutHandler) refreshToken(w http.ResponseWriter, r *http.Request) (string, *AuthError) {
	v, desc := formParam(w, r, "refresh_token", h.maxBody)
	if desc == "" && (len(v) > maxTokenBytes || !isB64Token(v)) {
		desc = "malformed refresh_token"
	}
	if desc != "" {
		return "", &AuthError{Status: http.StatusBadRequest, Code: codeInvalidRequest, Description: desc, Reason: ReasonMalformedRequest}
	}
	return v, nil
}

func (h logoutHandler) storeFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.log.LogAttrs(r.Context(), slog.LevelError, "adapter: logout: could not "+what, slog.String("error", err.Error()))
	h.refuse(w, r, h.unavailable(ReasonStoreUnavailable, err))
}

// upstreamFailed maps a revocation error: the server refusing this token
// (4xx) is the client's problem; anything else is an outage.
func (h logoutHandler) upstreamFailed(w http.ResponseWriter, r *http.Request, sch scheme, what string, err error) {
	var ie *introspect.Error
	if errors.As(err, &ie) && ie.Status >= 400 && ie.Status < 500 && !errors.Is(err, introspect.ErrClientAuth) {
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "adapter: logout: "+what+" refused by the authorization server",
			slog.String("error", err.Error()))
		h.refuse(w, r, &AuthError{Status: http.StatusBadRequest, Code: codeInvalidRequest,
			Description: what + " not accepted", Reason: ReasonMalformedRequest, Err: err,
			used: sch, dpopOnly: h.dpopRequired(r)})
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelError, "adapter: logout: "+what+" revocation failed", slog.String("error", err.Error()))
	h.refuse(w, r, h.unavailable(ReasonIntrospectionDown, err))
}
