// Command tokenwarden is the operator tool of a tokenwarden deployment: it
// checks tokens the way the API does and ends sessions at Keycloak. Use it
// to find out why an API refuses a token, to check that the issuer serves
// the keys the API needs, and to end a user's sessions, or every session of
// a realm, when a device is lost or during an incident.
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
// "tokenwarden <command> --help" documents every flag; the repository's
// docs/cli.md is the runbook: configuration, recipes, and what each
// revocation reaches. The issuer comes from TOKENWARDEN_ISSUER (or
// KEYCLOAK_URL with KEYCLOAK_REALM). Secrets are read from a file or the
// environment, never from a flag value, which other users of the machine
// see in ps; nothing prints a token, a secret or the admin's access token.
// Plain http is accepted only for localhost and loopback addresses unless
// --insecure-allow-http is given.
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
package main
