// Command tokenwarden is the operator tool of a tokenwarden deployment: it
// checks tokens the way the API does and ends sessions at Keycloak.
//
//	tokenwarden verify           verify an access token offline (discovery, JWKS, signature,
//	                             issuer, audience, expiry, type) and print its claims and roles
//	tokenwarden introspect       ask the issuer whether a token is active (RFC 7662)
//	tokenwarden revoke           revoke a refresh or access token (RFC 7009)
//	tokenwarden sessions         list a user's sessions (the sid of their tokens)
//	tokenwarden logout-user      end every session of a user; Keycloak sets the user's
//	                             not-before and sends a back-channel logout per session
//	tokenwarden push-not-before  realm not-before = now, pushed to every client's admin URL
//	tokenwarden status           check the issuer: discovery, signing keys, endpoints
//
// Token commands use this module's oidc and introspect packages; the admin
// commands use Keycloak's admin REST API through gocloak. "tokenwarden
// <command> --help" documents every flag.
//
// # Configuration
//
// Every setting has a flag and, for the ones an operator sets once, an
// environment variable; the flag wins. The issuer is TOKENWARDEN_ISSUER
// (--issuer), or KEYCLOAK_URL with KEYCLOAK_REALM (--keycloak-url, --realm).
// Introspection authenticates as TOKENWARDEN_CLIENT_ID (--client-id).
// Admin commands log in as KEYCLOAK_ADMIN_USER (--admin-user, realm
// KEYCLOAK_ADMIN_REALM, default master) and end that admin session when
// done; without an admin user they use the client's service account, which
// then needs the realm-management roles view-users, manage-users and
// manage-realm.
//
// Secrets never come from a flag value, which other users of the machine see
// in ps: the client secret is read from --client-secret-file,
// TOKENWARDEN_CLIENT_SECRET_FILE or TOKENWARDEN_CLIENT_SECRET, the admin
// password from --admin-password-file, KEYCLOAK_ADMIN_PASSWORD_FILE or
// KEYCLOAK_ADMIN_PASSWORD. Flags that would carry a secret or a token
// (--client-secret, --token, …) are refused without echoing their value.
//
// The token is read from --token-file (or "-" for stdin), else
// TOKENWARDEN_TOKEN, else stdin; it may be a bare token, an Authorization
// header value ("Bearer …") or a token-endpoint JSON answer, from which
// access_token (or refresh_token with --token-type-hint refresh_token) is
// taken. Nothing prints a token, a secret or the admin's access token.
//
// Plain http is accepted only for localhost and loopback addresses unless
// --insecure-allow-http is given. No redirect is followed.
//
// # Output and exit codes
//
// Results go to stdout, as text or, with --json, as one JSON document;
// errors go to stderr. The exit code says what happened:
//
//	0  success; the token is valid (verify) or active (introspect)
//	1  the token is invalid, inactive or revoked
//	2  usage: bad flags, missing configuration, unreadable secret or token
//	3  upstream unavailable: Keycloak or the JWKS did not answer, timed out or failed (5xx)
//	4  refused by Keycloak: bad client credentials, missing admin role, unknown user or session
//	5  partial: not-before set, but some admin URLs did not acknowledge the push
//
// # What each revocation reaches
//
// logout-user is Keycloak's POST /admin/realms/{realm}/users/{id}/logout:
// the user's not-before becomes now, every session is removed, and each
// client of each session that has a back-channel logout URL receives a
// logout token with the session's sid (with tokenwarden's
// BackchannelLogoutHandler, the API then refuses those sessions' tokens).
// With --session only that session is deleted (DELETE
// /admin/realms/{realm}/sessions/{id}), which also sends a back-channel
// logout; the user's not-before is left alone.
//
// push-not-before does what the admin console's Sessions → Revocation does:
// "Set to now" (a realm update carrying only notBefore), then "Push" (POST
// /admin/realms/{realm}/push-revocation), which sends a signed
// k_push_not_before to every client with an admin URL. Keycloak compares
// whole seconds: a token is stale when its iat is before the not-before.
//
// revoke of an access token makes introspection answer inactive, but the
// token still verifies offline until it expires: only the API's deny-list
// (the app's logout endpoint, a back-channel logout, a pushed not-before) or
// introspection refuses it earlier. verify therefore never claims a token
// is unrevoked.
package main
