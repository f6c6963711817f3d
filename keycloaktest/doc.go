// Package keycloaktest gives integration tests a real Keycloak and the
// helpers to drive it: users, password-grant tokens, a real
// authorization-code + PKCE login through Keycloak's own login form (the
// tokens a Capacitor app gets), logout of a user or a session, not-before
// pushes, key rotation and client changes.
//
// [New] returns one Keycloak for every test of the run, found or started on
// first use, in this order:
//
//  1. KEYCLOAK_URL (with KEYCLOAK_REALM, KEYCLOAK_ADMIN_USER and
//     KEYCLOAK_ADMIN_PASSWORD) from the environment or, inside the
//     tokenwarden repository, from the .services.env that `make services`
//     writes;
//  2. a local Keycloak distribution fetched with Maven (Java 17+ and mvn on
//     PATH), checked against a pinned SHA-256, cached and started in dev
//     mode on 127.0.0.1 — the same code as `make services`. It is shared:
//     `go test ./...` runs one process per package, the first to need
//     Keycloak starts it detached and records it in a state file beside the
//     cached distribution, the others (and later runs) reuse it. It stops
//     itself after KEYCLOAKTEST_IDLE (a Go duration, default 30m) without a
//     test using it; in the tokenwarden repository `make services-stop`
//     stops it at once, elsewhere kill the KEYCLOAK_PID of
//     shared-keycloak-*.env in the cache directory;
//  3. the quay.io/keycloak/keycloak image when a Docker engine answers,
//     one container per test process, stopped by [Shutdown].
//
// KEYCLOAKTEST_START=never disables 2 and 3; =dist or =docker forces one.
// The distribution is cached in $KEYCLOAKTEST_CACHE_DIR, else in .cache/ of
// the tokenwarden repository, else in the user's cache directory.
// The realm imported by 2 and 3 is tokenwarden's test realm (clients
// `backend` and `mobile`, users alice and bob), or the file named by
// KEYCLOAK_REALM_FILE (a different realm file gets a server of its own).
// Call [Shutdown] from TestMain, or use [Main].
//
// When no Keycloak can be had, New skips the test, or fails it when the
// environment variable CI is "true"; [Require] always fails. Under -short
// both skip the test unless CI is "true", so `go test -short` needs no
// Keycloak.
//
// Unit tests that should run without Java use the in-process fake realm of
// package [github.com/tokenwarden/tokenwarden/keycloaktest/fake] instead:
// its helpers have the same names and [Tokens] is the same type.
//
// Helpers take the test's testing.TB and fail the test on error. Changes
// that tests make to shared objects are undone in t.Cleanup (created users
// and clients are deleted, client attributes restored). Realm-wide actions
// (RotateKeys, SetKeyPassive, RemoveKey, SetNotBeforeNow, LogoutAll) affect
// every test using the same realm: run them in a realm of their own from
// [Keycloak.IsolatedRealm].
//
// Safe for concurrent use by parallel tests.
package keycloaktest
