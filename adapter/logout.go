package adapter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// Revoker revokes a token at the authorization server (RFC 7009).
// *introspect.Client implements it.
type Revoker interface {
	Revoke(ctx context.Context, token, hint string) error
}

// AccessRevocation says whether LogoutHandler also revokes the access token
// at the authorization server (so that introspecting resource servers see
// it at once; this API's replicas learn it from the deny-list).
type AccessRevocation int

const (
	// RevokeAccessBestEffort tries, and logs a failure without failing the
	// logout. It is the default.
	RevokeAccessBestEffort AccessRevocation = iota
	// RevokeAccessRequired fails the logout (503) when it fails.
	RevokeAccessRequired
	// RevokeAccessNever does not send the access token.
	RevokeAccessNever
)

// LogoutConfig configures LogoutHandler.
type LogoutConfig struct {
	// Verifier verifies the bearer access token. Required. The deny-list is
	// not consulted: logging out twice succeeds twice.
	Verifier TokenVerifier
	// Store receives the access token's jti (and session). Required.
	Store revocation.Store
	// Revokers revoke tokens at the authorization server, by client id.
	// Keycloak lets a client revoke only tokens issued to it: the access
	// token's azp selects the revoker (for a public mobile client, an
	// introspect.Client configured with that client id and no secret).
	// A token whose client has no revoker is refused with 400. Required.
	Revokers map[string]Revoker
	// AccessToken says whether the access token is also revoked upstream.
	AccessToken AccessRevocation
	// RevokeSession also refuses every token of the access token's
	// session (sid) on every replica, not only this access token.
	RevokeSession bool
	// IntrospectionCache, when set, forgets the access token.
	IntrospectionCache interface{ Forget(token string) }

	// Extractor reads the access token; the zero value reads the
	// Authorization header only.
	Extractor Extractor
	// MaxBodyBytes caps the form body; zero means 16 KiB.
	MaxBodyBytes int64

	Realm       string
	ErrorWriter ErrorWriter
	RetryAfter  time.Duration
	Logger      *slog.Logger
	Metrics     Metrics
	Audit       AuditFunc
	AuditRate   float64
	AuditBurst  int
	Now         func() time.Time
}

// LogoutHandler serves an app backend's logout endpoint: POST, the access
// token as a bearer token, and the refresh token in an
// application/x-www-form-urlencoded body as refresh_token. It
//
//  1. verifies the access token (signature, issuer, audience, expiry);
//  2. deny-lists its (iss, jti) until it expires, and with RevokeSession
//     its session, so every replica refuses it;
//  3. revokes the refresh token at the authorization server (RFC 7009),
//     then the access token (per AccessToken);
//  4. evicts the access token from the verifier's and introspection caches;
//  5. answers 204.
//
// It is idempotent. A failure of the store or the authorization server is
// a 503 with Retry-After: the client retries; nothing is reported done that
// was not. An expired access token is refused (401): the app should revoke
// its refresh token directly at the authorization server then.
func LogoutHandler(cfg LogoutConfig) (http.Handler, error) {
	if cfg.Verifier == nil || cfg.Store == nil || len(cfg.Revokers) == 0 {
		return nil, fmt.Errorf("%w: LogoutHandler needs Verifier, Store and Revokers", ErrConfig)
	}
	h := &logoutHandler{cfg: cfg, revokers: make(map[string]Revoker, len(cfg.Revokers))}
	for k, v := range cfg.Revokers {
		h.revokers[k] = v
	}
	h.common = newCommon(cfg.Realm, cfg.ErrorWriter, cfg.RetryAfter, cfg.Logger, cfg.Metrics, cfg.Audit, cfg.AuditRate, cfg.AuditBurst, cfg.Now)
	if h.cfg.MaxBodyBytes <= 0 {
		h.cfg.MaxBodyBytes = 16 << 10
	}
	return h, nil
}

type logoutHandler struct {
	common
	cfg      LogoutConfig
	revokers map[string]Revoker
}

func (h *logoutHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctx := r.Context()
	token, err := h.cfg.Extractor.Extract(r)
	if err != nil {
		h.refuse(w, r, extractError(err))
		return
	}
	c, err := h.cfg.Verifier.Verify(ctx, token)
	if err != nil {
		e := verifyError(err)
		e.RetryAfter = h.retry
		h.refuse(w, r, e)
		return
	}
	refresh, e := h.refreshToken(w, r)
	if e != nil {
		h.refuse(w, r, e)
		return
	}
	client := TokenOf(c).ClientID
	rv := h.revokers[client]
	if rv == nil {
		h.refuse(w, r, &AuthError{Status: http.StatusBadRequest, Code: CodeInvalidRequest,
			Description: "logout not available for this client", Reason: ReasonMalformedRequest})
		return
	}

	// The access token first: it dies on every replica even when the
	// authorization server is down.
	if c.ID != "" {
		if err := h.cfg.Store.RevokeToken(ctx, c.Issuer, c.ID, c.Expiry); err != nil {
			h.storeFailed(w, r, "deny-list the access token", err)
			return
		}
	}
	if (h.cfg.RevokeSession || c.ID == "") && c.SessionID != "" {
		if err := h.cfg.Store.RevokeSession(ctx, c.Issuer, c.SessionID, h.now()); err != nil {
			h.storeFailed(w, r, "revoke the session", err)
			return
		}
	} else if c.ID == "" {
		// Nothing identifies this token alone: refuse rather than claim it
		// is revoked.
		h.refuse(w, r, &AuthError{Status: http.StatusBadRequest, Code: CodeInvalidRequest,
			Description: "token has neither jti nor sid", Reason: ReasonMalformedRequest})
		return
	}
	forget(h.cfg.Verifier, token)
	if h.cfg.IntrospectionCache != nil {
		h.cfg.IntrospectionCache.Forget(token)
	}

	if err := rv.Revoke(ctx, refresh, "refresh_token"); err != nil {
		h.upstreamFailed(w, r, "refresh token", err)
		return
	}
	if h.cfg.AccessToken != RevokeAccessNever {
		if err := rv.Revoke(ctx, token, "access_token"); err != nil {
			if h.cfg.AccessToken == RevokeAccessRequired {
				h.upstreamFailed(w, r, "access token", err)
				return
			}
			h.log.LogAttrs(ctx, slog.LevelWarn, "adapter: logout: access token revocation failed; deny-listed locally",
				slog.String("error", err.Error()))
		}
	}
	h.audit.emit(ctx, AuditEvent{Kind: AuditLogout, Reason: ReasonOK, Method: r.Method, Path: r.URL.Path,
		RemoteAddr: r.RemoteAddr, Issuer: c.Issuer, Subject: c.Subject, SessionID: c.SessionID, TokenID: c.ID})
	h.metrics.Decision(OutcomeAllow, ReasonOK)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// refreshToken reads the single refresh_token form parameter.
func (h *logoutHandler) refreshToken(w http.ResponseWriter, r *http.Request) (string, *AuthError) {
	bad := func(desc string) *AuthError {
		return &AuthError{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: desc, Reason: ReasonMalformedRequest}
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return "", bad("form body expected")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		return "", bad("body too large")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", bad("malformed form")
	}
	vs := form["refresh_token"]
	switch {
	case len(vs) == 0 || vs[0] == "":
		return "", bad("refresh_token required")
	case len(vs) > 1:
		return "", bad("refresh_token repeated")
	case len(vs[0]) > DefaultMaxTokenBytes || !isB64Token(vs[0]):
		return "", bad("malformed refresh_token")
	}
	return vs[0], nil
}

func (h *logoutHandler) storeFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.log.LogAttrs(r.Context(), slog.LevelError, "adapter: logout: could not "+what, slog.String("error", err.Error()))
	h.refuse(w, r, h.unavailable(ReasonStoreUnavailable, err))
}

// upstreamFailed maps a revocation error: the server refusing this token
// (4xx) is the client's problem; anything else is an outage.
func (h *logoutHandler) upstreamFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	var ie *introspect.Error
	if errors.As(err, &ie) && ie.Status >= 400 && ie.Status < 500 && !errors.Is(err, introspect.ErrClientAuth) {
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "adapter: logout: "+what+" refused by the authorization server",
			slog.String("error", err.Error()))
		h.refuse(w, r, &AuthError{Status: http.StatusBadRequest, Code: CodeInvalidRequest,
			Description: what + " not accepted", Reason: ReasonMalformedRequest, Err: err})
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelError, "adapter: logout: "+what+" revocation failed", slog.String("error", err.Error()))
	h.refuse(w, r, h.unavailable(ReasonIntrospectionDown, err))
}

// common holds what every handler of this package shares.
type common struct {
	realm   string
	ew      ErrorWriter
	retry   time.Duration
	log     *slog.Logger
	metrics Metrics
	audit   *auditor
	now     func() time.Time
}

func newCommon(realm string, ew ErrorWriter, retry time.Duration, log *slog.Logger, m Metrics,
	audit AuditFunc, rate float64, burst int, now func() time.Time) common {
	c := common{realm: realm, ew: ew, retry: retry, log: log, metrics: m, now: now}
	if c.realm == "" {
		c.realm = "api"
	}
	if c.retry <= 0 {
		c.retry = 5 * time.Second
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.metrics == nil {
		c.metrics = NopMetrics{}
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.audit = newAuditor(audit, rate, burst, c.metrics, c.now)
	return c
}

func (c *common) unavailable(reason Reason, err error) *AuthError {
	return &AuthError{Status: http.StatusServiceUnavailable, Code: CodeTemporarilyUnavailable,
		Description: "temporarily unavailable", Reason: reason, RetryAfter: c.retry, Err: err}
}

func (c *common) refuse(w http.ResponseWriter, r *http.Request, e *AuthError) {
	oc := OutcomeDeny
	if e.Status == http.StatusServiceUnavailable {
		oc = OutcomeUnavailable
	}
	c.metrics.Decision(oc, e.Reason)
	writeAuthError(w, r, c.realm, c.ew, e)
}
