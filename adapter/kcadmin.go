package adapter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// AdminActionVerifier verifies the body of a Keycloak admin-URL request.
// *oidc.Verifier implements it (and checks the resource against the
// configured client ids).
type AdminActionVerifier interface {
	VerifyAdminAction(ctx context.Context, body string) (*oidc.AdminAction, error)
}

// KeycloakAdminConfig configures KeycloakAdminHandler.
type KeycloakAdminConfig struct {
	// Verifier verifies the signed admin messages with the realm keys.
	// Required.
	Verifier AdminActionVerifier
	// Issuer is the realm's issuer, which the messages do not carry: the
	// revocations are stored under it. Defaults to Verifier.Issuer() when
	// the verifier has that method.
	Issuer string
	// Store records the revocations and guards against replay. Required.
	Store revocation.Store
	// MaxBodyBytes caps the body; zero means 16 KiB.
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

// KeycloakAdminHandler serves a client's Keycloak admin URL: mount it so
// that <adminUrl>/k_logout, <adminUrl>/k_push_not_before and
// <adminUrl>/k_test_available reach it (it dispatches on the last path
// element). The body is a bare compact JWS signed with a realm key; the
// verifier checks signature, action, expiration and resource. Then:
//
//   - k_push_not_before (PUSH_NOT_BEFORE): the issuer not-before is raised
//     to notBefore, so every token of the realm issued earlier is refused
//     on every replica, as a Keycloak adapter refuses them. A notBefore of
//     0 (cleared) changes nothing: revocations only tighten.
//   - k_logout (LOGOUT): each keycloakSessionIds entry is revoked; a
//     notBefore raises the issuer not-before (Keycloak's "sign out all
//     active sessions" sends the realm's new not-before); a message naming
//     neither sessions nor a notBefore means every session, so the issuer
//     not-before becomes now (whole seconds).
//   - k_test_available (TEST_AVAILABLE): 200, nothing stored.
//
// A message id is accepted once (the store's SeenOnce, across replicas);
// a replay is 400. Success is 200 with an empty body, a failed check 400
// (401 is never sent: the sender has no credentials to change), a store
// failure 503; the message is then spent and must be pushed again from
// Keycloak, which does not retry by itself.
func KeycloakAdminHandler(cfg KeycloakAdminConfig) (http.Handler, error) {
	if cfg.Verifier == nil || cfg.Store == nil {
		return nil, fmt.Errorf("%w: KeycloakAdminHandler needs Verifier and Store", ErrConfig)
	}
	h := &adminHandler{cfg: cfg}
	if h.cfg.Issuer == "" {
		if is, ok := cfg.Verifier.(interface{ Issuer() string }); ok {
			h.cfg.Issuer = is.Issuer()
		}
	}
	if h.cfg.Issuer == "" {
		return nil, fmt.Errorf("%w: KeycloakAdminHandler needs Issuer", ErrConfig)
	}
	if h.cfg.MaxBodyBytes <= 0 {
		h.cfg.MaxBodyBytes = 16 << 10
	}
	h.common = newCommon("", nil, cfg.RetryAfter, cfg.Logger, cfg.Metrics, cfg.Audit, cfg.AuditRate, cfg.AuditBurst, cfg.Now)
	return h, nil
}

type adminHandler struct {
	common
	cfg KeycloakAdminConfig
}

// adminEndpoints maps the path element to the action it must carry.
var adminEndpoints = map[string]string{
	"k_logout":          oidc.AdminActionLogout,
	"k_push_not_before": oidc.AdminActionPushNotBefore,
	"k_test_available":  oidc.AdminActionTestAvailable,
}

func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	want, ok := adminEndpoints[path.Base(r.URL.Path)]
	if !ok {
		h.fail(w, http.StatusNotFound, "invalid_request", "unknown admin endpoint", ReasonMalformedRequest)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, http.StatusMethodNotAllowed, "invalid_request", "POST required", ReasonMalformedRequest)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		h.fail(w, http.StatusBadRequest, "invalid_request", "body too large", ReasonMalformedRequest)
		return
	}
	act, err := h.cfg.Verifier.VerifyAdminAction(ctx, strings.TrimSpace(string(body)))
	if err != nil {
		if !isTokenFault(err) {
			h.log.LogAttrs(ctx, slog.LevelWarn, "adapter: keycloak admin: keys unavailable", slog.String("error", err.Error()))
			h.unavailable503(w, ReasonKeysUnavailable)
			return
		}
		h.log.LogAttrs(ctx, slog.LevelInfo, "adapter: keycloak admin: invalid message", slog.String("error", err.Error()))
		h.audit.emit(ctx, AuditEvent{Kind: AuditVerificationFailed, Reason: ReasonInvalidToken, Method: r.Method,
			Path: r.URL.Path, RemoteAddr: r.RemoteAddr, Detail: "admin_action"})
		h.fail(w, http.StatusBadRequest, "invalid_request", "invalid admin message", ReasonInvalidToken)
		return
	}
	if act.Action != want {
		h.fail(w, http.StatusBadRequest, "invalid_request", "action does not match the endpoint", ReasonInvalidToken)
		return
	}
	if act.Action == oidc.AdminActionTestAvailable {
		h.ok(w)
		return
	}
	if act.ID != "" {
		first, err := h.cfg.Store.SeenOnce(ctx, h.cfg.Issuer, "kc-admin:"+act.ID, act.Expiration)
		switch {
		case err != nil:
			h.log.LogAttrs(ctx, slog.LevelError, "adapter: keycloak admin: replay guard unavailable", slog.String("error", err.Error()))
			h.unavailable503(w, ReasonStoreUnavailable)
			return
		case !first:
			h.fail(w, http.StatusBadRequest, "invalid_request", "admin message replayed", ReasonInvalidToken)
			return
		}
	}
	if err := h.apply(ctx, act); err != nil {
		h.log.LogAttrs(ctx, slog.LevelError, "adapter: keycloak admin: revocation not stored",
			slog.String("action", act.Action), slog.String("error", err.Error()))
		h.unavailable503(w, ReasonStoreUnavailable)
		return
	}
	h.audit.emit(ctx, AuditEvent{Kind: AuditAdminAction, Reason: ReasonOK, Method: r.Method, Path: r.URL.Path,
		RemoteAddr: r.RemoteAddr, Issuer: h.cfg.Issuer, Detail: act.Action})
	h.ok(w)
}

func (h *adminHandler) apply(ctx context.Context, act *oidc.AdminAction) error {
	nb := act.NotBefore
	if act.Action == oidc.AdminActionLogout {
		for _, sid := range act.KeycloakSessionIDs {
			if err := h.cfg.Store.RevokeSession(ctx, h.cfg.Issuer, sid, h.now()); err != nil {
				return err
			}
		}
		if nb.IsZero() && len(act.KeycloakSessionIDs) == 0 && len(act.AdapterSessionIDs) == 0 {
			// Every session, and Keycloak sent no time: now, in whole
			// seconds like iat, so that a token issued in this second
			// after the logout is not refused (Keycloak's own rule is
			// iat < notBefore with second precision).
			nb = h.now().Truncate(time.Second)
		}
	}
	if nb.IsZero() {
		return nil
	}
	return h.cfg.Store.SetIssuerNotBefore(ctx, h.cfg.Issuer, nb)
}

func (h *adminHandler) ok(w http.ResponseWriter) {
	h.metrics.Decision(OutcomeAllow, ReasonOK)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (h *adminHandler) fail(w http.ResponseWriter, status int, code, desc string, reason Reason) {
	h.metrics.Decision(OutcomeDeny, reason)
	writeJSONError(w, status, code, desc, 0)
}

func (h *adminHandler) unavailable503(w http.ResponseWriter, reason Reason) {
	h.metrics.Decision(OutcomeUnavailable, reason)
	writeJSONError(w, http.StatusServiceUnavailable, CodeTemporarilyUnavailable, "temporarily unavailable", h.retry)
}
