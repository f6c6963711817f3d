// Package faults holds tokenwarden's fault-injection tests: the library
// between a real Keycloak and a real Redis, with a toxiproxy proxy (run in
// process through its Go API) or an HTTP fault server in the way.
//
//   - TestKeycloakTCPFaults: latency beyond the fetch timeout, a timeout
//     toxic (data dropped, connection open), a connection cut mid-body
//     (limit_data), a reset (reset_peer), a slow-drip body (slicer) and the
//     proxy down, under discovery, JWKS and introspection at once.
//   - TestKeycloakHTTPFaults: discovery, JWKS, introspection and revocation
//     answering 500, 503, garbage or 1 MiB of JSON.
//   - TestRedisFaults: the same TCP faults between one replica and Redis,
//     while another replica reaches Redis directly.
//
// Every scenario checks the documented outage policy while the fault is on
// (stale keys keep verifying, 503 with Retry-After where the state of a
// token cannot be known, never a misleading 401; a degraded deny-list makes
// every request introspected; revocation writes fail), then removes the
// fault and checks that the library recovers without a restart. After each
// scenario no goroutine that it started may be left running (goleak).
//
// Calls to Keycloak are bounded by 1 s here, so most scenarios take a few
// seconds; the silent and high-latency Redis cases take about 10 s each,
// the time go-redis gives a blocking read before it fails. The package runs
// in one to two minutes with -race.
//
// The tests need Keycloak and Redis (`make services`): without them they
// are skipped, or fail when CI=true.
package faults
