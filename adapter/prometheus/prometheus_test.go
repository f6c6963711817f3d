package prometheus_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tokenwarden/tokenwarden/adapter"
	twprom "github.com/tokenwarden/tokenwarden/adapter/prometheus"
	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/oidc"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := twprom.New(twprom.Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	m.Decision(adapter.OutcomeAllow, adapter.ReasonOK)
	m.Decision(adapter.OutcomeAllow, adapter.ReasonOK)
	m.Decision(adapter.OutcomeDeny, adapter.ReasonRevoked)
	m.Decision(adapter.OutcomeDeny, adapter.Reason("custom"))
	m.IntrospectionCache(introspect.Event{Kind: introspect.CacheHit})
	m.IntrospectionCache(introspect.Event{Kind: introspect.CacheNegativeHit})
	m.IntrospectionCache(introspect.Event{Kind: introspect.CacheMiss})
	m.IntrospectionCache(introspect.Event{Kind: introspect.CacheCoalesced})
	m.IntrospectionCache(introspect.Event{Kind: introspect.UpstreamCall}) // a client's event: not a lookup
	m.Introspection("active", 3*time.Millisecond)
	m.KeySetFetch(oidc.FetchEvent{})
	m.KeySetFetch(oidc.FetchEvent{Err: errors.New("down")})
	m.StoreDegraded(true)
	m.AuditDropped()

	if got := testutil.ToFloat64(prometheusCounter(t, reg, "tokenwarden_decisions_total", `outcome="allow",reason="ok"`)); got != 2 {
		t.Fatalf("allow/ok = %v", got)
	}
	if got := testutil.ToFloat64(prometheusCounter(t, reg, "tokenwarden_decisions_total", `outcome="deny",reason="custom"`)); got != 1 {
		t.Fatalf("deny/custom = %v", got)
	}
	if got := testutil.ToFloat64(prometheusCounter(t, reg, "tokenwarden_cache_lookups_total", `cache="introspection",result="hit"`)); got != 2 {
		t.Fatalf("introspection/hit = %v", got)
	}
	if got := testutil.ToFloat64(prometheusCounter(t, reg, "tokenwarden_cache_lookups_total", `cache="introspection",result="miss"`)); got != 1 {
		t.Fatalf("introspection/miss = %v", got)
	}
	for _, result := range []string{"ok", "error"} {
		if got := testutil.ToFloat64(prometheusCounter(t, reg, "tokenwarden_jwks_fetches_total", `result="`+result+`"`)); got != 1 {
			t.Fatalf("jwks %s = %v", result, got)
		}
	}
	if got := testutil.ToFloat64(prometheusCounter(t, reg, "tokenwarden_audit_events_dropped_total", "")); got != 1 {
		t.Fatalf("dropped = %v", got)
	}
	if got := testutil.ToFloat64(prometheusCounter(t, reg, "tokenwarden_decisions_total", `outcome="deny",reason="revoked"`)); got != 1 {
		t.Fatalf("revoked = %v", got)
	}
	if got := testutil.ToFloat64(prometheusCounter(t, reg, "tokenwarden_store_degraded", "")); got != 1 {
		t.Fatalf("degraded = %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "tokenwarden_introspection_duration_seconds"); err != nil || n != 1 {
		t.Fatalf("histogram series = %d, %v", n, err)
	}
	// A second registration on the same registry fails cleanly.
	if _, err := twprom.New(twprom.Config{Registerer: reg}); err == nil {
		t.Fatal("duplicate registration accepted")
	}
}

// prometheusCounter finds one series by its rendered labels and returns a
// collector yielding just that value.
func prometheusCounter(t *testing.T, reg *prometheus.Registry, name, labels string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var parts []string
			for _, lp := range m.GetLabel() {
				parts = append(parts, lp.GetName()+`="`+lp.GetValue()+`"`)
			}
			if strings.Join(parts, ",") != labels {
				continue
			}
			v := 0.0
			switch {
			case m.GetCounter() != nil:
				v = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				v = m.GetGauge().GetValue()
			}
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
			g.Set(v)
			return g
		}
	}
	t.Fatalf("series %s{%s} not found", name, labels)
	return nil
}

func TestDecisionAllocs(t *testing.T) {
	m, err := twprom.New(twprom.Config{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { m.Decision(adapter.OutcomeAllow, adapter.ReasonOK) }); n != 0 {
		t.Fatalf("Decision allocates %v times", n)
	}
}
