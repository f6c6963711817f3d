// Package fake is an in-process fake Keycloak realm for unit tests: an
// httptest server that speaks the parts of Keycloak 26.x an API protected
// by tokenwarden meets. Use it to unit-test such an API with genuine,
// expired, forged and revoked tokens, logouts and not-before pushes,
// without Java or a running Keycloak; package
// [github.com/tokenwarden/tokenwarden/keycloaktest] runs the same tests
// against the real server, with helpers of the same names.
//
//	kc := fake.New(t, fake.Config{}) // realm "tokenwarden": clients backend and mobile, users alice and bob
//	tok := kc.PasswordToken(t, "mobile", "", "alice", "alice-password")
//	// point the API under test at kc.IssuerURL() and send tok.AccessToken
//
// What Keycloak does on its own is driven by methods named like those of
// [github.com/tokenwarden/tokenwarden/keycloaktest.Keycloak], so a test can
// move between the fake and a real Keycloak: [Keycloak.LogoutUser] and
// [Keycloak.DeleteSession] end sessions and POST one logout token per
// session to each client's back-channel logout URL;
// [Keycloak.PushRevocation] and [Keycloak.LogoutAll] POST k_push_not_before
// and k_logout messages to the clients' admin URLs; [Keycloak.RotateKeys],
// [Keycloak.SetKeyPassive] and [Keycloak.RemoveKey] rotate the realm's keys.
//
// For negative tests, [Keycloak.Break] spoils a token in one way (expired,
// unknown key, bad signature, other issuer, unsigned), [Keycloak.Resign]
// signs an edited copy, and [Keycloak.LogoutToken] and
// [Keycloak.AdminMessage] mint logout tokens and admin messages with any
// content.
//
// Time comes from [Config.Now], so tests can expire tokens and sessions
// without sleeping. [Keycloak] lists the endpoints served, the quirks of
// the real server the fake reproduces, and what it does not cover.
//
// Methods that take a testing.TB fail the test on error. A Keycloak is safe
// for concurrent use; it is closed when the test that created it ends.
package fake
