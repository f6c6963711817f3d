// Package reliability holds tokenwarden's fault-injection and soak tests:
// the library between a real Keycloak and a real Redis with a toxiproxy in
// the way, and two replicas under mixed traffic while revocations, key
// rotations and a Redis restart happen. It is a module of its own so that
// toxiproxy stays out of the core module's dependencies.
//
// Run with `make test` (the services are started for it) or, against
// running services, `cd reliability && go test -race ./...`.
package reliability
