package prometheus_test

import (
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tokenwarden/tokenwarden/adapter"
	twprom "github.com/tokenwarden/tokenwarden/adapter/prometheus"
)

// Wire the collectors into the adapter and expose them.
func Example() {
	reg := prometheus.NewRegistry()
	m, err := twprom.New(twprom.Config{Registerer: reg})
	if err != nil {
		log.Fatal(err)
	}
	cfg := adapter.Config{Metrics: m /* , Verifier: …, Store: … */}
	_ = cfg
	// Key-set fetches: oidc.KeySetConfig{Observe: adapter.JWKSObserver(m)}.
	// Introspection cache: introspect.CacheConfig{Observe: adapter.IntrospectionCacheObserver(m)}.
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
}
