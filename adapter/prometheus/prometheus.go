// Package prometheus implements adapter.Metrics with the Prometheus Go
// client. It is a module of its own so that the core tokenwarden module does
// not depend on client_golang.
//
// Labels come only from the adapter's fixed sets (outcome, reason, cache,
// result): never a token, a subject, a client id or a path. Metrics is safe
// for concurrent use; the counters of the known label combinations are
// resolved once, so the request path does not hash label values.
package prometheus

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// Config configures New. The zero value registers with
// prometheus.DefaultRegisterer under the namespace "tokenwarden".
type Config struct {
	// Registerer receives the collectors; nil means
	// prometheus.DefaultRegisterer.
	Registerer prometheus.Registerer
	// Namespace prefixes every metric name; empty means "tokenwarden".
	Namespace string
	// IntrospectionBuckets are the histogram buckets in seconds; nil means
	// 0.5 ms to 2.5 s.
	IntrospectionBuckets []float64
}

// Metrics implements adapter.Metrics.
type Metrics struct {
	decisions     *prometheus.CounterVec
	cache         *prometheus.CounterVec
	introspection *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	jwks          *prometheus.CounterVec
	degraded      prometheus.Gauge
	auditDropped  prometheus.Counter

	decided         map[decisionKey]prometheus.Counter
	introHit        prometheus.Counter
	introMiss       prometheus.Counter
	jwksOK, jwksErr prometheus.Counter
}

type decisionKey struct {
	o adapter.Outcome
	r adapter.Reason
}

var _ adapter.Metrics = (*Metrics)(nil)

// Known label values, resolved at construction.
var (
	outcomes = []adapter.Outcome{adapter.OutcomeAllow, adapter.OutcomeDeny, adapter.OutcomeUnavailable}
	reasons  = []adapter.Reason{
		adapter.ReasonOK, adapter.ReasonNoCredentials, adapter.ReasonMalformedRequest, adapter.ReasonMultipleTokens,
		adapter.ReasonTokenTooLarge, adapter.ReasonInvalidToken, adapter.ReasonExpired, adapter.ReasonRevoked,
		adapter.ReasonInactive, adapter.ReasonInsufficientScope, adapter.ReasonKeysUnavailable,
		adapter.ReasonIntrospectionDown, adapter.ReasonStoreUnavailable, adapter.ReasonNotConfigured,
	}
)

// New creates the collectors and registers them.
func New(cfg Config) (*Metrics, error) {
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = "tokenwarden"
	}
	buckets := cfg.IntrospectionBuckets
	if buckets == nil {
		buckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	}
	m := &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "decisions_total",
			Help: "Authentication decisions by outcome (allow, deny, unavailable) and reason."}, []string{"outcome", "reason"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "cache_lookups_total",
			Help: "Cache lookups by cache and result (hit, miss)."}, []string{"cache", "result"}),
		introspection: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "introspection_requests_total",
			Help: "Introspection calls by result (active, inactive, error)."}, []string{"result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "introspection_duration_seconds",
			Help: "Latency of introspection calls, cached answers included.", Buckets: buckets}, []string{"result"}),
		jwks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "jwks_fetches_total",
			Help: "Key-set fetches by result (ok, error)."}, []string{"result"}),
		degraded: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "store_degraded",
			Help: "1 while the deny-list may be missing revocations (requests are then introspected)."}),
		auditDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "audit_events_dropped_total",
			Help: "Audit events dropped by the rate limit."}),
		decided: make(map[decisionKey]prometheus.Counter),
	}
	for _, c := range []prometheus.Collector{m.decisions, m.cache, m.introspection, m.latency, m.jwks, m.degraded, m.auditDropped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, o := range outcomes {
		for _, r := range reasons {
			m.decided[decisionKey{o, r}] = m.decisions.WithLabelValues(string(o), string(r))
		}
	}
	m.introHit = m.cache.WithLabelValues("introspection", "hit")
	m.introMiss = m.cache.WithLabelValues("introspection", "miss")
	m.jwksOK = m.jwks.WithLabelValues("ok")
	m.jwksErr = m.jwks.WithLabelValues("error")
	return m, nil
}

// Decision implements adapter.Metrics.
func (m *Metrics) Decision(o adapter.Outcome, r adapter.Reason) {
	if c, ok := m.decided[decisionKey{o, r}]; ok {
		c.Inc()
		return
	}
	m.decisions.WithLabelValues(string(o), string(r)).Inc()
}

// IntrospectionCache implements adapter.Metrics: a hit or negative hit of
// the introspection cache counts as a hit, a miss as a miss (a coalesced
// call already counted as the miss it was).
func (m *Metrics) IntrospectionCache(ev introspect.Event) {
	switch ev.Kind {
	case introspect.CacheHit, introspect.CacheNegativeHit:
		m.introHit.Inc()
	case introspect.CacheMiss:
		m.introMiss.Inc()
	}
}

// Introspection implements adapter.Metrics.
func (m *Metrics) Introspection(result string, d time.Duration) {
	m.introspection.WithLabelValues(result).Inc()
	m.latency.WithLabelValues(result).Observe(d.Seconds())
}

// KeySetFetch implements adapter.Metrics: one key-set fetch, "ok" or
// "error".
func (m *Metrics) KeySetFetch(ev oidc.FetchEvent) {
	if ev.Err != nil {
		m.jwksErr.Inc()
		return
	}
	m.jwksOK.Inc()
}

// StoreDegraded implements adapter.Metrics.
func (m *Metrics) StoreDegraded(d bool) {
	if d {
		m.degraded.Set(1)
		return
	}
	m.degraded.Set(0)
}

// AuditDropped implements adapter.Metrics.
func (m *Metrics) AuditDropped() { m.auditDropped.Inc() }
