// Package adapter protects a net/http API with Keycloak (or any OpenID
// Connect provider) access tokens. Use it when an API must accept tokens at
// the speed of local verification and still refuse them once the user logs
// out, the session ends or an administrator revokes them. It is the
// package an API imports; oidc, introspect and revocation are its parts.
//
// [New] builds an [Authenticator] from a [Config]: given the issuer URL and
// the API's client id, it discovers the issuer and builds the key set, the
// verifier (with Keycloak's defaults), a private deny-list and, with a
// client secret, the introspection client and its cache. Each part can be
// passed in Config instead.
//
// [Authenticator.Middleware] lets through only requests with a valid,
// unrevoked token, with its claims in the request context ([FromContext]);
// guards ([RequireScope], [RequireRealmRole], [RequireClientRole],
// [RequireClaim], [All], [Any]) check them, for every request (Config.Require)
// or per route ([Authenticator.Require]). [IntrospectionPolicy] says when a
// token is also confirmed with the provider. [DPoPPolicy] (Config.DPoP)
// takes DPoP-bound tokens (RFC 9449) with their proofs, refuses them as
// Bearer, and can require them per route. Revocations arrive through
// [Authenticator.LogoutHandler] (the app's logout),
// [Authenticator.BackchannelLogoutHandler] (OpenID Connect Back-Channel
// Logout 1.0) and [Authenticator.KeycloakAdminHandler] (k_push_not_before,
// k_logout); with a Redis store, one replica's revocation reaches all.
//
// A refusal is an RFC 6750 (or RFC 9449) answer ([AuthError]) whose
// [Reason] reaches [Metrics] and [AuditFunc]; the operator, never the
// client, also gets its explanation (the check of the token or DPoP proof
// that failed, the setting that decides, the expected and presented values)
// in the log and the audit event. A
// dependency that cannot answer is 503, never a misleading 401, and failing
// open takes an option whose name starts with Unsafe;
// [Authenticator.Ready] tells a readiness probe whether requests can be
// decided. No token ever reaches a log line, a metric label or an audit
// event. The repository's docs/how-it-works.md draws the pipeline, and
// docs/troubleshooting.md maps every reason and log line to the setting to
// change.
//
// Everything in this package is safe for concurrent use.
package adapter
