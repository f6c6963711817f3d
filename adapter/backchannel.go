package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// LogoutTokenVerifier verifies an OpenID Connect back-channel logout token.
// *oidc.Verifier and *oidc.MultiVerifier implement it.
type LogoutTokenVerifier interface {
	VerifyLogoutToken(ctx context.Context, raw string) (*oidc.LogoutClaims, error)
}

// BackchannelLogoutConfig configures BackchannelLogoutHandler.
type BackchannelLogoutConfig struct {
	// Verifier verifies logout tokens. Required.
	Verifier LogoutTokenVerifier
	// Store records the revocation and guards against replay. Required.
	Store revocation.Store
	// MaxBodyBytes caps the form body; zero means 16 KiB.
	MaxBodyBytes int64
	// RetryAfter is sent with 503 answers; zero means 5 seconds.
	RetryAfter time.Duration
	Logger     *slog.Logger
	Metrics    Metrics
	Audit      AuditFunc
	AuditRate  float64
	AuditBurst int
	Now        func() time.Time
}

// BackchannelLogoutHandler receives OpenID Connect Back-Channel Logout 1.0
// requests (POST, form logout_token). It verifies the logout token (§2.6,
// through the oidc package), refuses a replayed (iss, jti) across replicas
// (the store's SeenOnce), and revokes the session (sid) or, for a token
// without sid, every token of the subject issued before the logout. It
// answers 200 with Cache-Control: no-store only once the revocation is
// stored.
//
// Any invalid request or token is 400 with a JSON error body (§2.8). A
// store that cannot record the revocation is 503 with Retry-After rather
// than 400: the token was valid, the failure is ours, and a sender that
// retries should. Keycloak does not retry; it logs the failed delivery.
func BackchannelLogoutHandler(cfg BackchannelLogoutConfig) (http.Handler, error) {
	if cfg.Verifier == nil || cfg.Store == nil {
		return nil, fmt.Errorf("%w: BackchannelLogoutHandler needs Verifier and Store", ErrConfig)
	}
	h := &backchannelHandler{cfg: cfg}
	if h.cfg.MaxBodyBytes <= 0 {
		h.cfg.MaxBodyBytes = 16 << 10
	}
	h.common = newCommon("", nil, cfg.RetryAfter, cfg.Logger, cfg.Metrics, cfg.Audit, cfg.AuditRate, cfg.AuditBurst, cfg.Now)
	return h, nil
}

type backchannelHandler struct {
	common
	cfg BackchannelLogoutConfig
}

func (h *backchannelHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, http.StatusMethodNotAllowed, "invalid_request", "POST required", ReasonMalformedRequest)
		return
	}
	raw, desc := formParam(w, r, "logout_token", h.cfg.MaxBodyBytes)
	if desc != "" {
		h.fail(w, http.StatusBadRequest, "invalid_request", desc, ReasonMalformedRequest)
		return
	}
	lc, err := h.cfg.Verifier.VerifyLogoutToken(ctx, raw)
	if err != nil {
		if !isTokenFault(err) {
			h.log.LogAttrs(ctx, slog.LevelWarn, "adapter: back-channel logout: keys unavailable", slog.String("error", err.Error()))
			h.unavailableJSON(w, ReasonKeysUnavailable)
			return
		}
		h.log.LogAttrs(ctx, slog.LevelInfo, "adapter: back-channel logout: invalid logout token", slog.String("error", err.Error()))
		h.audit.emit(ctx, AuditEvent{Kind: AuditVerificationFailed, Reason: ReasonInvalidToken, Method: r.Method,
			Path: r.URL.Path, RemoteAddr: r.RemoteAddr, Detail: "logout_token"})
		h.fail(w, http.StatusBadRequest, "invalid_request", "invalid logout token", ReasonInvalidToken)
		return
	}

	// Revoke first, then record the jti: a revocation that failed can be
	// retried with the same token. A replay only re-applies the same
	// revocation before SeenOnce refuses it: the subject's not-before is
	// derived from the token's iat, never from the time of arrival, so a
	// replayed token cannot push it forward onto a new login.
	if lc.SessionID != "" {
		// The session has ended: no token of it can be issued later.
		at := h.now()
		if lc.IssuedAt.After(at) {
			at = lc.IssuedAt
		}
		err = h.cfg.Store.RevokeSession(ctx, lc.Issuer, lc.SessionID, at)
	} else {
		// iat has second precision: a token issued in the logout's second
		// is refused too.
		err = h.cfg.Store.RevokeSubject(ctx, lc.Issuer, lc.Subject, lc.IssuedAt.Add(time.Second))
	}
	if err != nil {
		h.log.LogAttrs(ctx, slog.LevelError, "adapter: back-channel logout: revocation not stored", slog.String("error", err.Error()))
		h.unavailableJSON(w, ReasonStoreUnavailable)
		return
	}
	first, err := h.cfg.Store.SeenOnce(ctx, lc.Issuer, lc.ID, lc.Expiry)
	switch {
	case err != nil:
		h.log.LogAttrs(ctx, slog.LevelError, "adapter: back-channel logout: replay guard unavailable", slog.String("error", err.Error()))
		h.unavailableJSON(w, ReasonStoreUnavailable)
		return
	case !first:
		h.fail(w, http.StatusBadRequest, "invalid_request", "logout token replayed", ReasonInvalidToken)
		return
	}
	h.audit.emit(ctx, AuditEvent{Kind: AuditBackchannelLogout, Reason: ReasonOK, Method: r.Method, Path: r.URL.Path,
		RemoteAddr: r.RemoteAddr, Issuer: lc.Issuer, Subject: lc.Subject, SessionID: lc.SessionID, TokenID: lc.ID})
	h.metrics.Decision(OutcomeAllow, ReasonOK)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (h *backchannelHandler) fail(w http.ResponseWriter, status int, code, desc string, reason Reason) {
	h.metrics.Decision(OutcomeDeny, reason)
	writeJSONError(w, status, code, desc, 0)
}

func (h *backchannelHandler) unavailableJSON(w http.ResponseWriter, reason Reason) {
	h.metrics.Decision(OutcomeUnavailable, reason)
	writeJSONError(w, http.StatusServiceUnavailable, CodeTemporarilyUnavailable, "temporarily unavailable", h.retry)
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
