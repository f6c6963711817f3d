package prometheus_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenwarden/tokenwarden/adapter"
	twprom "github.com/tokenwarden/tokenwarden/adapter/prometheus"
	"github.com/tokenwarden/tokenwarden/oidc"
)

// refuseAll is a verifier for the example: the requests below are refused
// before a token is verified.
type refuseAll struct{}

func (refuseAll) Verify(context.Context, string) (*oidc.Claims, error) { return nil, oidc.ErrMalformed }

// Every decision of the middleware is counted by outcome and reason, labels
// from fixed sets: never a token, a user or a path.
func ExampleNew_decisions() {
	reg := prometheus.NewRegistry()
	m, err := twprom.New(twprom.Config{Registerer: reg})
	if err != nil {
		log.Fatal(err)
	}
	auth, err := adapter.New(context.Background(), adapter.Config{Verifier: refuseAll{}, Metrics: m})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	h := auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	for _, authorization := range []string{"", "Basic YWxpY2U6cGFzc3dvcmQ=", "Bearer one two"} {
		r := httptest.NewRequest(http.MethodGet, "/api/profile", nil)
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	}

	families, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			if s.GetCounter().GetValue() == 0 {
				continue
			}
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			fmt.Printf("%s{%s} %g\n", f.GetName(), strings.Join(labels, ","), s.GetCounter().GetValue())
		}
	}
	// Output:
	// 401 Bearer realm="api"
	// 401 Bearer realm="api"
	// 400 Bearer realm="api", error="invalid_request", error_description="malformed authorization"
	// tokenwarden_decisions_total{outcome="deny",reason="malformed_request"} 1
	// tokenwarden_decisions_total{outcome="deny",reason="no_credentials"} 2
}
