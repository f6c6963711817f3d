// Command serve serves one end-to-end HTTP row of the benchmarks on
// loopback, outside `go test`, for profilers that need a process of its
// own (valgrind, perf, pprof): the trivial handler bare, or behind
// tokenwarden's middleware with the verified-token cache on, configured as
// the HTTP/tokenwarden-cached row. It signs a fixture token with fresh keys,
// writes it to -token-out, prints the server's URL on one line, and serves
// until its standard input ends. callgrind.sh uses it.
//
// With -row keycloak it serves the fake Keycloak instead (JWKS, discovery,
// introspection, request counters at fixture.StatsPath) and prints its base
// URL: the introspection benchmarks run it as a child process, so that the
// CPU time of the benchmark process is the client's alone.
//
//	serve -row tokenwarden-cached -token-out /tmp/token
//	serve -row keycloak
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/tokenwarden/tokenwarden/adapter"
	twoidc "github.com/tokenwarden/tokenwarden/oidc"

	"github.com/tokenwarden/tokenwarden/bench/internal/fixture"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}

func run() error {
	row := flag.String("row", "bare", "bare, tokenwarden-cached or keycloak")
	tokenOut := flag.String("token-out", "", "file to write the fixture token to (required but for -row keycloak)")
	flag.Parse()
	keys, err := fixture.NewKeys()
	if err != nil {
		return err
	}
	if *row == "keycloak" {
		kc := fixture.NewServer(keys)
		defer kc.Close()
		fmt.Println(kc.URL)
		_, err = io.Copy(io.Discard, os.Stdin)
		return err
	}
	if *tokenOut == "" {
		return errors.New("-token-out is required")
	}
	tok, err := keys.Sign(fixture.RS256, fixture.Claims(time.Now(), time.Hour))
	if err != nil {
		return err
	}
	if err := os.WriteFile(*tokenOut, []byte(tok.Raw+"\n"), 0o600); err != nil {
		return err
	}
	var h http.Handler = okHandler
	switch *row {
	case "bare":
	case "tokenwarden-cached":
		kc := fixture.NewServer(keys)
		defer kc.Close()
		ks, err := twoidc.NewRemoteKeySet(twoidc.KeySetConfig{URL: kc.JWKSURL(), InsecureAllowHTTP: true})
		if err != nil {
			return err
		}
		defer ks.Close()
		a, err := newMiddleware(ks)
		if err != nil {
			return err
		}
		defer a.Close()
		h = a.Middleware(okHandler)
	default:
		return fmt.Errorf("-row %q: want bare, tokenwarden-cached or keycloak", *row)
	}
	api := httptest.NewServer(h)
	defer api.Close()
	fmt.Println(api.URL + "/")
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

// okHandler is the benchmarks' trivial handler.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok\n"))
})

// newMiddleware is the HTTP/tokenwarden-cached chain: RS256 verifier with
// its cache on, the in-memory deny-list, realm role user and client role
// backend:reader required.
func newMiddleware(ks *twoidc.RemoteKeySet) (*adapter.Authenticator, error) {
	v, err := twoidc.NewVerifier(twoidc.VerifierConfig{
		Issuer:     fixture.Issuer,
		Keys:       ks,
		Audience:   []string{fixture.Audience},
		Algorithms: []string{fixture.RS256},
	})
	if err != nil {
		return nil, err
	}
	return adapter.New(context.Background(), adapter.Config{
		Verifier: v,
		Require: []adapter.Requirement{
			adapter.RequireRealmRole("user"),
			adapter.RequireClientRole(fixture.Audience, "reader"),
		},
	})
}
