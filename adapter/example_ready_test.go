package adapter_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/tokenwarden/tokenwarden/adapter"
)

// Serve Ready as a readiness probe: 503 while requests cannot be decided
// (no signing keys yet, or a degraded deny-list with nothing to confirm
// tokens). With RequireKeysAtStart, New itself fails, with an error
// wrapping oidc.ErrKeysUnavailable, rather than start without keys.
func ExampleAuthenticator_Ready() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	auth, err := adapter.New(ctx, adapter.Config{
		Issuer:             "https://sso.example.com/realms/acme",
		Audience:           "backend",
		RequireKeysAtStart: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()

	http.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := auth.Ready(r.Context()); err != nil {
			log.Print("not ready: ", err)
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
}
