// Package fake is an in-process fake Keycloak realm for unit tests: an
// httptest server that speaks the parts of Keycloak 26.x an API protected
// by tokenwarden meets, without Java.
//
//	kc := fake.New(t, fake.Config{}) // realm "tokenwarden": clients backend and mobile, users alice and bob
//	tok := kc.PasswordToken(t, "mobile", "", "alice", "alice-password")
//	// point the API under test at kc.IssuerURL() and send tok.AccessToken
//
// It serves, under /realms/{realm}, the discovery document and, under
// /realms/{realm}/protocol/openid-connect/, the endpoints certs (JWKS), token
// (password, refresh_token, client_credentials and authorization_code with
// PKCE), token/introspect (RFC 7662), revoke (RFC 7009), userinfo, auth (a
// login form like Keycloak's) and logout (POST with a refresh token).
// Tokens and answers have Keycloak's shape: the JWS header bytes, the claim
// names and order, the jti prefixes, the error codes and texts, and the
// quirks this project measured (introspection requires the caller in aud;
// revoking an unknown token answers 200 with an error body; revoking a
// refresh token ends that client's session, revoking an access token blocks
// its jti; revocation sends no back-channel logout). A scenario test runs
// the same calls against the fake and a real Keycloak and compares the
// answers.
//
// Keycloak's other behaviours are driven by methods named like those of
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
// without sleeping. Not covered: SSO cookies, the browser logout page,
// offline tokens, DPoP, lightweight access tokens, token exchange and the
// admin REST API.
//
// Methods that take a testing.TB fail the test on error. A Keycloak is safe
// for concurrent use; it is closed when the test that created it ends.
package fake
