package prometheus_test

import (
	"context"
	"log"
	"net/http"
	"os"

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
	// New wires m to the key set and the introspection cache it builds.
	auth, err := adapter.New(context.Background(), adapter.Config{Metrics: m,
		Issuer: "https://sso.example.com/realms/acme", Audience: "backend", ClientSecret: os.Getenv("CLIENT_SECRET")})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	// Parts built by hand take the methods as their hooks:
	// oidc.KeySetConfig{Observe: m.KeySetFetch},
	// introspect.CacheConfig{Observe: m.IntrospectionCache}.
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	http.Handle("/api/", auth.Middleware(http.NotFoundHandler()))
}
