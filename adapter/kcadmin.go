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
	h := a.mountMessage(adminMessages{a}, messageLabels{
		log: "keycloak admin", about: aboutAdminMessage, detail: "admin_action", audit: AuditAdminAction,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := adminEndpoints[path.Base(r.URL.Path)]; !ok {
			a.fail(w, http.StatusNotFound, "unknown admin endpoint", ReasonMalformedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// adminMessages is the messageKind of KeycloakAdminHandler.
type adminMessages struct{ *Authenticator }

func (k adminMessages) missing() string {
	if k.adminActions != nil && k.adminIssuer != "" {
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

func (k adminMessages) read(w http.ResponseWriter, r *http.Request, limit int64) (msg, desc string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return "", "body too large"
	}
	return strings.TrimSpace(string(body)), ""
}

func (k adminMessages) verify(r *http.Request, msg string) (*pushed, error) {
	act, err := k.adminActions.VerifyAdminAction(r.Context(), msg)
	switch {
	case err != nil:
		return nil, err
	case act.Action != adminEndpoints[path.Base(r.URL.Path)]:
		return nil, badMessage("action does not match the endpoint")
	case act.Action == oidc.AdminActionTestAvailable:
		return &pushed{}, nil // nothing to store
	case act.ID == "":
		// The id is the only replay guard of a message that tightens the
		// deny-list: without one, a captured message could be replayed
		// until it expires.
		return nil, badMessage("admin message without id")
	}
	// A logout's cut-offs depend on the time of arrival: the id is spent
	// first, so that a replay never moves one.
	return &pushed{
		issuer: k.adminIssuer, id: "kc-admin:" + act.ID, expiry: act.Expiration, spendFirst: true,
		revoke:   func(ctx context.Context) error { return k.apply(ctx, act) },
		logAttrs: []slog.Attr{slog.String("action", act.Action)},
		audit:    func(ev *AuditEvent) { ev.Issuer, ev.Detail = k.adminIssuer, act.Action },
	}, nil
}

func (k adminMessages) apply(ctx context.Context, act *oidc.AdminAction) error {
	nb := act.NotBefore
	if act.Action == oidc.AdminActionLogout {
		// The sessions have ended and never come back: cover every token
		// of them, even one dated ahead by the issuer's clock.
		cut := k.now().Add(maxClockSkew)
		for _, sid := range act.KeycloakSessionIDs {
			if err := k.cfg.Store.RevokeSession(ctx, k.adminIssuer, sid, cut); err != nil {
				return err
			}
		}
		if nb.IsZero() && len(act.KeycloakSessionIDs) == 0 && len(act.AdapterSessionIDs) == 0 {
			// Every session, and Keycloak sent no time: now, in whole
			// seconds like iat, so that a token issued in this second
			// after the logout is not refused (Keycloak's own rule is
			// iat < notBefore with second precision).
			nb = k.now().Truncate(time.Second)
		}
	}
	if nb.IsZero() {
		return nil
	}
	return k.cfg.Store.SetIssuerNotBefore(ctx, k.adminIssuer, nb)
}
