package adapter

import (
	"context"
	"sync"
	"time"

	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// Outcome is the result of one request decision.
type Outcome string

// Outcomes of a decision.
const (
	OutcomeAllow       = Outcome("allow")       // the request reached the handler
	OutcomeDeny        = Outcome("deny")        // 400, 401 or 403
	OutcomeUnavailable = Outcome("unavailable") // 503: a dependency failed
)

// Metrics receives the counters of the adapter and the events of the parts
// New builds. Every argument comes from a small fixed set (outcomes,
// reasons, results, event kinds): nothing identifies a token or a user, so
// an implementation can use them as labels. Methods are called on the
// request path and must be cheap and safe for concurrent use. The
// adapter/prometheus module implements it.
type Metrics interface {
	// Decision counts one request decision of the middleware or a handler.
	Decision(outcome Outcome, reason Reason)
	// Introspection observes one call to the Introspector, cached answers
	// included: result is "active", "inactive" or "error".
	Introspection(result string, d time.Duration)
	// StoreDegraded reports the deny-list's state whenever it is checked.
	StoreDegraded(degraded bool)
	// AuditDropped counts audit events dropped by the rate limit.
	AuditDropped()
	// KeySetFetch observes one key-set fetch. It has the signature of
	// oidc.KeySetConfig.Observe: New wires it to the key set it builds;
	// for one built by hand, set Observe: m.KeySetFetch.
	KeySetFetch(ev oidc.FetchEvent)
	// IntrospectionCache observes one decision of the introspection
	// cache (an introspect.Event of a Cache* kind). It has the signature of
	// introspect.CacheConfig.Observe: New wires it to the cache it builds;
	// for one built by hand, set Observe: m.IntrospectionCache.
	IntrospectionCache(ev introspect.Event)
}

// nopMetrics discards everything. It is the default.
type nopMetrics struct{}

func (nopMetrics) Decision(Outcome, Reason)            {}
func (nopMetrics) Introspection(string, time.Duration) {}
func (nopMetrics) StoreDegraded(bool)                  {}
func (nopMetrics) AuditDropped()                       {}
func (nopMetrics) KeySetFetch(oidc.FetchEvent)         {}
func (nopMetrics) IntrospectionCache(introspect.Event) {}

// AuditKind names a security event worth a record.
type AuditKind string

// Audit event kinds.
const (
	AuditRevokedTokenPresented = AuditKind("revoked_token_presented")
	AuditVerificationFailed    = AuditKind("verification_failed")
	AuditInactiveToken         = AuditKind("inactive_token")
	AuditLogout                = AuditKind("logout")
	AuditBackchannelLogout     = AuditKind("backchannel_logout")
	AuditAdminAction           = AuditKind("admin_action")
)

// AuditEvent describes one security event. It never carries the token.
// Issuer, Subject, SessionID and TokenID are set only when a token was
// verified (a failed verification has none: its claims cannot be trusted).
type AuditEvent struct {
	Time       time.Time
	Kind       AuditKind
	Reason     Reason
	Method     string
	Path       string
	RemoteAddr string
	Issuer     string
	Subject    string
	SessionID  string
	TokenID    string
	Detail     string // a fixed, non-secret detail (e.g. the admin action)
}

// AuditFunc receives audit events. It is called synchronously, after the
// rate limit, and must not block.
type AuditFunc func(ctx context.Context, ev AuditEvent)

// auditor applies a token-bucket rate limit in front of an AuditFunc.
type auditor struct {
	fn      AuditFunc
	metrics Metrics
	now     func() time.Time

	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newAuditor(fn AuditFunc, perSecond float64, burst int, m Metrics, now func() time.Time) *auditor {
	if fn == nil {
		return nil
	}
	if perSecond <= 0 {
		perSecond = 10
	}
	if burst <= 0 {
		burst = 50
	}
	return &auditor{fn: fn, metrics: m, now: now, rate: perSecond, burst: float64(burst), tokens: float64(burst)}
}

func (a *auditor) allow() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.now()
	if !a.last.IsZero() {
		el := t.Sub(a.last).Seconds()
		if el > 0 {
			a.tokens += el * a.rate
			if a.tokens > a.burst {
				a.tokens = a.burst
			}
		}
	}
	a.last = t
	if a.tokens < 1 {
		return false
	}
	a.tokens--
	return true
}

// emit records ev when the rate limit allows; a nil auditor does nothing.
func (a *auditor) emit(ctx context.Context, ev AuditEvent) {
	if a == nil {
		return
	}
	if !a.allow() {
		a.metrics.AuditDropped()
		return
	}
	if ev.Time.IsZero() {
		ev.Time = a.now()
	}
	a.fn(ctx, ev)
}
