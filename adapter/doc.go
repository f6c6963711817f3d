// Package adapter is the net/http side of tokenwarden: the middleware that
// lets an API trust Keycloak (or any OIDC provider) access tokens at local
// verification speed while honouring revocation, and the handlers through
// which revocations arrive.
//
// # One value
//
// New builds an Authenticator from a Config. Given the issuer URL and the
// API's client id it discovers the issuer and builds the key set, the
// verifier (with Keycloak's defaults), a private deny-list, and with a
// client secret the introspection client and its cache; given the app's
// client ids, the public-client revokers of the logout handler. Each part
// can be passed in Config instead. The pipeline is its Middleware; the
// handlers through which revocations arrive are its methods, sharing its
// store, clock, logger, metrics and audit trail. Close releases what New
// built.
//
// # The request pipeline
//
// Middleware runs, for every request:
//
//  1. RFC 6750 §2 extraction (Extractor): the Authorization header only by
//     default, any case of "Bearer", exactly one b64token, size-capped; a
//     form-body token only when enabled; a query token only with
//     UnsafeAllowQueryToken; a token sent two ways is 400.
//  2. Local verification (TokenVerifier, e.g. *oidc.Verifier with its
//     verified-token cache).
//  3. The deny-list (revocation.Store): jti, session, subject not-before,
//     issuer and client not-before, answered from memory.
//  4. Introspection when IntrospectionPolicy asks for it (always, per
//     route, older than a duration, lightweight tokens), always while the
//     store is degraded, and always for a token without sub (a Keycloak
//     lightweight access token: identity and roles come from the answer,
//     and the deny-list is asked again with them). An inactive answer
//     deny-lists the token (by jti, else by session, else by a digest of
//     its verified payload), so every replica and route learns it.
//  5. Requirements (RequireScope, RequireRealmRole, RequireClientRole,
//     RequireClaim, All, Any; per route with Require), then the claims into the request
//     context (FromContext).
//
// Every refusal is an RFC 6750 §3 answer: WWW-Authenticate: Bearer
// realm="…" on 400/401/403, no error code when the request had no
// credentials, invalid_request (400), invalid_token (401),
// insufficient_scope (403, with scope), an error_description restricted to
// the characters the RFC allows, Cache-Control: no-store, and a body from a
// pluggable ErrorWriter (WriteJSONError by default). A dependency that
// cannot answer (keys, introspection, the store while degraded) is 503 with
// Retry-After, never a misleading 401; failing open takes an option whose
// name starts with Unsafe. A part the request needs but Config lacks is a
// 503 too, and the error log names the field to set.
//
// # Where revocations come from
//
// LogoutHandler (the app's logout: revoke the refresh token at Keycloak,
// deny-list the access token), BackchannelLogoutHandler (OpenID Connect
// Back-Channel Logout 1.0: session or subject), KeycloakAdminHandler
// (k_push_not_before, k_logout, k_test_available). With a Redis store, a
// notification received by one replica reaches all of them. A session's
// cut-off reaches 5 minutes (the largest verifier leeway) past the logout,
// so that a token dated by an issuer clock running ahead is refused too.
//
// # Trade-offs, stated
//
//   - A token revoked only at Keycloak (the app revoking its refresh token,
//     an access token revoked over RFC 7009, a disabled user) sends no
//     notification: routes without introspection accept it until it
//     expires (Keycloak's default lifespan is 5 minutes). Mount
//     Introspected, or set IntrospectionPolicy, where that matters; the
//     first inactive answer deny-lists the token for every route and
//     replica.
//   - While the store is degraded every request is introspected; an
//     answer cached by the introspect package may still be served for at
//     most its bounded lifetime.
//   - BackchannelLogoutHandler answers 400 to anything invalid (§2.8) but
//     503 when the revocation could not be stored: never 200 for a
//     revocation that is not recorded. Keycloak does not retry.
//   - KeycloakAdminHandler spends a message id before applying it (replays
//     are refused across replicas); a message whose revocation could not
//     be stored (503) must be pushed again from Keycloak.
//   - LogoutHandler deny-lists the access token before calling Keycloak,
//     so a 503 may follow a local revocation that did happen; retrying is
//     safe (every step is idempotent).
//
// # Observability
//
// Metrics receives decisions by outcome and Reason, introspection calls and
// latency, the store's state, and the events of the key set and the
// introspection cache that New builds (its methods have the signatures of
// their hooks); the adapter/prometheus module implements it. AuditFunc
// receives rate-limited security events (a revoked token presented, a
// failed verification, logouts). No token ever reaches a log line, a metric
// label or an audit event.
//
// Everything in this package is safe for concurrent use.
package adapter
