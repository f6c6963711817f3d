package adapter

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// A messageKind is what differs between the handlers of the signed
// messages by which Keycloak tightens the deny-list (BackchannelLogoutHandler,
// KeycloakAdminHandler). Both run one course, messageHandler: POST only, a
// body within MaxBodyBytes, the message verified, its id accepted once
// across replicas (the store's SeenOnce), the revocation stored, an audit
// event, 200 with Cache-Control: no-store.
type messageKind interface {
	// missing names the Config field the handler lacks, or is "".
	missing() string
	// read returns the message in the body of at most limit bytes, or a
	// safe description of why there is none (400).
	read(w http.ResponseWriter, r *http.Request, limit int64) (msg, desc string)
	// verify checks msg and returns what it asks. An error from the
	// verifier goes to refuseMessage; a badMessage is a 400 as it reads.
	verify(r *http.Request, msg string) (*pushed, error)
}

// messageLabels name a message handler in what it logs and audits.
type messageLabels struct {
	log    string    // the log line prefix after "adapter: "
	about  string    // the message: aboutLogoutToken or aboutAdminMessage
	detail string    // what the Detail of a failed verification starts with
	audit  AuditKind // the event of a message applied
}

// badMessage refuses a verified message that the handler cannot apply.
type badMessage string

func (e badMessage) Error() string { return string(e) }

// pushed is a verified message: what it revokes and how it is recorded.
type pushed struct {
	// The message is accepted once, under (issuer, id), until expiry.
	issuer, id string
	expiry     time.Time
	// revoke stores the revocation; nil when the message asks for none
	// (then neither its id nor an event is recorded).
	revoke func(context.Context) error
	// spendFirst records the id before revoke runs, for a revocation whose
	// cut-off depends on the time of arrival: a replay must never reach
	// it. Otherwise revoke runs first, so that a sender can retry a failed
	// one with the same message; the replay that SeenOnce then refuses
	// re-applies exactly what is stored.
	spendFirst bool
	// logAttrs go with the error logged when revoke fails.
	logAttrs []slog.Attr
	// audit fills in the message's part of the audit event.
	audit func(*AuditEvent)
}

// messageHandler serves one messageKind.
type messageHandler struct {
	*Authenticator
	kind   messageKind
	labels messageLabels
}

// mountMessage returns the handler of k, first logging what it lacks.
func (a *Authenticator) mountMessage(k messageKind, l messageLabels) http.Handler {
	return a.mount(messageHandler{a, k, l}, k.missing())
}

func (h messageHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.accept(w, r, h.kind.missing()) {
		return
	}
	ctx := r.Context()
	msg, desc := h.kind.read(w, r, h.maxBody)
	if desc != "" {
		h.fail(w, http.StatusBadRequest, desc, ReasonMalformedRequest)
		return
	}
	m, err := h.kind.verify(r, msg)
	if bad, ok := err.(badMessage); ok {
		h.fail(w, http.StatusBadRequest, string(bad), ReasonInvalidToken)
		return
	}
	if err != nil {
		h.refuseMessage(w, r, err, msg, h.labels.about, h.labels.detail)
		return
	}
	if m.revoke == nil {
		h.succeed(w, http.StatusOK)
		return
	}
	if m.spendFirst && !h.spend(w, r, m) {
		return
	}
	if err := m.revoke(ctx); err != nil {
		h.log.LogAttrs(ctx, slog.LevelError, "adapter: "+h.labels.log+": revocation not stored",
			append(m.logAttrs, slog.String("error", err.Error()))...)
		h.fail(w, http.StatusServiceUnavailable, "", ReasonStoreUnavailable)
		return
	}
	if !m.spendFirst && !h.spend(w, r, m) {
		return
	}
	ev := h.event(r, h.labels.audit, ReasonOK, nil)
	m.audit(&ev)
	h.audit.emit(ctx, ev)
	h.succeed(w, http.StatusOK)
}

// spend accepts m's id once across replicas. It answers 503 when the store
// cannot tell and 400 for a replay, and reports whether the handler goes on.
func (h messageHandler) spend(w http.ResponseWriter, r *http.Request, m *pushed) bool {
	first, err := h.cfg.Store.SeenOnce(r.Context(), m.issuer, m.id, m.expiry)
	switch {
	case err != nil:
		h.log.LogAttrs(r.Context(), slog.LevelError, "adapter: "+h.labels.log+": replay guard unavailable", slog.String("error", err.Error()))
		h.fail(w, http.StatusServiceUnavailable, "", ReasonStoreUnavailable)
		return false
	case !first:
		h.fail(w, http.StatusBadRequest, h.labels.about+" replayed", ReasonInvalidToken)
		return false
	}
	return true
}
