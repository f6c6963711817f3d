// Package keycloaktest gives integration tests a real Keycloak: use it to
// prove an API against the server it will meet in production, with a real
// login through Keycloak's own form (authorization code + PKCE, the tokens a
// mobile app gets), password-grant tokens, and logouts, not-before pushes
// and key rotations that Keycloak itself sends to the API. For unit tests
// that should run without Java, use the in-process fake realm of package
// [github.com/tokenwarden/tokenwarden/keycloaktest/fake] instead: its
// helpers have the same names and [Tokens] is the same type.
//
//	func TestMain(m *testing.M) { keycloaktest.Main(m) }
//
//	func TestLogout(t *testing.T) {
//		kc := keycloaktest.New(t).IsolatedRealm(t, api.URL) // a fresh copy of the test realm
//		tokens := kc.LoginPKCE(t, "alice", "alice-password") // the real browser login, PKCE S256
//		// … call the API with tokens.AccessToken …
//		kc.DeleteSession(t, tokens.SessionID) // Keycloak posts a back-channel logout to the API
//	}
//
// [New] finds or starts one Keycloak for every test of the run: from
// KEYCLOAK_URL, else a cached distribution fetched with Maven, else a
// Docker container. The realm is tokenwarden's test realm (clients
// `backend` and `mobile`, users alice and bob).
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
