// Package soak holds tokenwarden's soak test (soak_test.go): two replicas
// of the adapter middleware, sharing one real redis-server through
// revocation.Redis stores and verifying tokens of a real Keycloak realm,
// serve mixed traffic — valid, revoked, expired, forged and garbage tokens
// — from several client goroutines at the highest rate the machine
// sustains, while tokens are logged out on either replica, the realm's
// signing key is rotated and the redis-server is killed and restarted.
//
// An oracle judges every answer from what the test knows when the request
// was sent (see judge in oracle_test.go). The test fails on any wrong
// decision, any error beyond the injected ones, a revocation that never
// reaches the other replica, a peak heap above a cap proportional to the
// live entries, or a goroutine leak. It ends with a one-line summary.
//
// The run lasts -soak.duration; when the flag is not given,
// TOKENWARDEN_SOAK_DURATION, else 3 minutes under CI=true, else 20 seconds.
// It goes on past that (at most 3 minutes) until the Redis restart and a key
// rotation followed by 10 seconds of traffic have happened: a loaded
// Keycloak can take tens of seconds to rotate a key.
//
//	cd reliability && go test -race -run TestSoak -v ./soak -soak.duration=3m
//
// The package has no non-test code.
package soak
