// Package faults holds tokenwarden's fault-injection tests: the library
// between a real Keycloak and a real Redis, with a toxiproxy proxy (run in
// process) or an HTTP fault server in the way.
//
// Every scenario checks the documented outage policy while the fault is on
// (stale keys keep verifying, 503 with Retry-After where the state of a
// token cannot be known, never a misleading 401; a degraded deny-list makes
// every request introspected; revocation writes fail), then removes the
// fault and checks that the library recovers without a restart. After each
// scenario no goroutine that it started may be left running.
//
// The tests need Keycloak and Redis (`make services`): without them they
// are skipped, or fail when CI=true.
package faults
