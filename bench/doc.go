// Package bench compares tokenwarden with the Go libraries its users would
// otherwise pick (go-oidc, gocloak, keyfunc + golang-jwt, jwx, auth0
// go-jwt-middleware) on the same Keycloak-shaped access token, in one
// `go test -bench` run, against a floor of the bare signature check.
//
// The benchmarks live in the test files; `make bench` at the repository
// root runs them with -count and benchstat and writes BENCHMARKS.md and
// bench/summary.json through cmd/report. Plain `go test ./...` runs only the
// fast tests that prove every library is configured to accept the fixture
// token and to reject the attack variants it is able to reject.
package bench
