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

// Metrics receives the counters of the adapter. Every argument comes from a
// small fixed set (outcomes, reasons, cache and store names): nothing
// identifies a token or a user, so an implementation can use them as labels.
// Methods are called on the request path and must be cheap and safe for
// concurrent use. Embed NopMetrics to implement only some of them.
type Metrics interface {
	// Decision counts one request decision of the middleware or a handler.
	Decision(outcome Outcome, reason Reason)
	// CacheLookup counts one lookup in a named cache ("verifier",
	// "introspection").
	CacheLookup(cache string, hit bool)
	// Introspection observes one call to the introspection endpoint:
	// result is "active", "inactive" or "error".
	Introspection(result string, d time.Duration)
	// JWKSRefresh counts one key-set fetch ("ok" or "error"); wire the
	// oidc package's refresh hook to it.
	JWKSRefresh(result string)
	// StoreDegraded reports the deny-list's state whenever it is checked.
	StoreDegraded(degraded bool)
	// AuditDropped counts audit events dropped by the rate limit.
	AuditDropped()
}

// NopMetrics discards everything. It is the default.
type NopMetrics struct{}

func (NopMetrics) Decision(Outcome, Reason)            {}
func (NopMetrics) CacheLookup(string, bool)            {}
func (NopMetrics) Introspection(string, time.Duration) {}
func (NopMetrics) JWKSRefresh(string)                  {}
func (NopMetrics) StoreDegraded(bool)                  {}
func (NopMetrics) AuditDropped()                       {}

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

// JWKSObserver returns a function for oidc.KeySetConfig.Observe that
// counts key-set fetches in m.
func JWKSObserver(m Metrics) func(oidc.FetchEvent) {
	return func(ev oidc.FetchEvent) {
		if ev.Err != nil {
			m.JWKSRefresh("error")
			return
		}
		m.JWKSRefresh("ok")
	}
}

// IntrospectionCacheObserver returns a function for
// introspect.CacheConfig.Observe that counts lookups of the introspection
// cache in m (cache "introspection"; a coalesced call counts as the miss it
// already was).
func IntrospectionCacheObserver(m Metrics) func(introspect.Event) {
	return func(ev introspect.Event) {
		switch ev.Kind {
		case introspect.CacheHit, introspect.CacheNegativeHit:
			m.CacheLookup("introspection", true)
		case introspect.CacheMiss:
			m.CacheLookup("introspection", false)
		}
	}
}
