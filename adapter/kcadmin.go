package adapter

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/oidc"
)

// KeycloakAdminHandler serves a client's Keycloak admin URL: mount it so
// that <adminUrl>/k_logout, <adminUrl>/k_push_not_before and
// <adminUrl>/k_test_available reach it (it dispatches on the last path
// element). The body is a bare compact JWS signed with a realm key; the
// verifier (Config.Verifier, an *oidc.Verifier) checks signature, action,
// expiration and resource. The revocations are stored under the
// verifier's issuer (else Config.Issuer): the messages name none. Then:
//
//   - k_push_not_before (PUSH_NOT_BEFORE): the issuer not-before is raised
//     to notBefore, so every token of the realm issued earlier is refused
//     on every replica, as a Keycloak adapter refuses them. A notBefore of
//     0 (cleared) changes nothing: revocations only tighten.
//   - k_logout (LOGOUT): each keycloakSessionIds entry is revoked, every
//     token of it issued up to 5 minutes (the largest verifier leeway)
//     after now, so that a token dated by an issuer clock running ahead is
//     covered too; a notBefore raises the issuer not-before (Keycloak's "sign out all
//     active sessions" sends the realm's new not-before); a message naming
//     neither sessions nor a notBefore means every session, so the issuer
//     not-before becomes now (whole seconds).
//   - k_test_available (TEST_AVAILABLE): 200, nothing stored.
//
// A LOGOUT or PUSH_NOT_BEFORE message must carry an id (Keycloak always
// sends one), which is accepted once (the store's SeenOnce, across
// replicas); a replay, or a message without id, is 400. Success is 200
// with an empty body, a failed check 400 (401 is never sent: the sender
// has no credentials to change), a store failure 503; the message is then
// spent and must be pushed again from Keycloak, which does not retry by
// itself. A Config.Verifier that cannot verify admin messages makes every
// request a 503, and the error log says so.
func (a *Authenticator) KeycloakAdminHandler() http.Handler {
	h := adminHandler{a}
	return a.mount(h, h.missing())
}

type adminHandler struct{ *Authenticator }

func (h adminHandler) missing() string {
	if h.adminActions != nil && h.adminIssuer != "" {
		return ""
	}
	return "adapter: KeycloakAdminHandler: Config.Verifier cannot verify Keycloak admin messages: " +
		"leave it nil (New builds one from Config.Issuer) or pass an *oidc.Verifier"
}

// adminEndpoints maps the path element to the action it must carry.
var adminEndpoints = map[string]string{
	"k_logout":          oidc.AdminActionLogout,
	"k_push_not_before": oidc.AdminActionPushNotBefore,
	"k_test_available":  oidc.AdminActionTestAvailable,
}

func (h adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	want, ok := adminEndpoints[path.Base(r.URL.Path)]
	if !ok {
		h.fail(w, http.StatusNotFound, "unknown admin endpoint", ReasonMalformedRequest)
		return
	}
	if !h.accept(w, r, h.missing()) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		h.fail(w, http.StatusBadRequest, "body too large", ReasonMalformedRequest)
		return
	}
	msg := strings.TrimSpace(string(body))
	act, err := h.adminActions.VerifyAdminAction(ctx, msg)
	if err != nil {
		h.refuseMessage(w, r, err, msg, aboutAdminMessage, "admin_action")
		return
	}
	if act.Action != want {
		h.fail(w, http.StatusBadRequest, "action does not match the endpoint", ReasonInvalidToken)
		return
	}
	if act.Action == oidc.AdminActionTestAvailable {
		h.succeed(w, http.StatusOK)
		return
	}
	// The id is the only replay guard of a message that tightens the
	// deny-list: without one, a captured message could be replayed until
	// it expires.
	if act.ID == "" {
		h.fail(w, http.StatusBadRequest, "admin message without id", ReasonInvalidToken)
		return
	}
	first, err := h.cfg.Store.SeenOnce(ctx, h.adminIssuer, "kc-admin:"+act.ID, act.Expiration)
	switch {
	case err != nil:
		h.log.LogAttrs(ctx, slog.LevelError, "adapter: keycloak admin: replay guard unavailable", slog.String("error", err.Error()))
		h.fail(w, http.StatusServiceUnavailable, "", ReasonStoreUnavailable)
		return
	case !first:
		h.fail(w, http.StatusBadRequest, "admin message replayed", ReasonInvalidToken)
		return
	}
	if err := h.apply(ctx, act); err != nil {
		h.log.LogAttrs(ctx, slog.LevelError, "adapter: keycloak admin: revocation not stored",
			slog.String("action", act.Action), slog.String("error", err.Error()))
		h.fail(w, http.StatusServiceUnavailable, "", ReasonStoreUnavailable)
		return
	}
	ev := h.event(r, AuditAdminAction, ReasonOK, nil)
	ev.Issuer, ev.Detail = h.adminIssuer, act.Action
	h.audit.emit(ctx, ev)
	h.succeed(w, http.StatusOK)
}

func (h adminHandler) apply(ctx context.Context, act *oidc.AdminAction) error {
	nb := act.NotBefore
	if act.Action == oidc.AdminActionLogout {
		// The sessions have ended and never come back: cover every token
		// of them, even one dated ahead by the issuer's clock.
		cut := h.now().Add(maxClockSkew)
		for _, sid := range act.KeycloakSessionIDs {
			if err := h.cfg.Store.RevokeSession(ctx, h.adminIssuer, sid, cut); err != nil {
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
	return h.cfg.Store.SetIssuerNotBefore(ctx, h.adminIssuer, nb)
}
