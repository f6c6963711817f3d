// Package introspect is a client for OAuth 2.0 Token Introspection
// (RFC 7662) and Token Revocation (RFC 7009), with a cache that makes
// introspection cheap enough to use on the request path.
//
// Introspection is how an API learns about a revocation it was not told
// about: a refresh token revoked by the app directly at the authorization
// server, a disabled user, a session that ended. A locally verified JWT stays
// valid until exp; the authorization server knows better.
//
// # Client
//
// New builds a Client from explicit endpoint URLs (Config) or, with
// ConfigFromDiscovery, from an oidc.Discovery. The client authenticates with
// client_secret_basic (id and secret form-urlencoded before Base64, RFC 6749
// §2.3.1), client_secret_post, private_key_jwt (an RFC 7523 assertion signed
// by a crypto.Signer, fresh jti per request, aud = the issuer) or none (a
// public client, for revocation only).
//
// Client.Introspect reads an answer in one strict pass, with the claims
// decoder of the local verifier (the same *oidc.Claims either way; no member
// name may repeat, not even in another letter case), accepts "active" only
// as the JSON literal true, and rechecks exp, iss and the audience rule of
// an active answer. Client.Revoke treats every 200 as revoked, including
// Keycloak's 200 {"error":"invalid_token"} for tokens that were already
// invalid, and retries 503 answers per Retry-After within a bound.
//
// # Errors
//
// Every failure is classified for errors.Is:
//
//   - ErrInactive: the server answered inactive. Answer 401 invalid_token.
//     Keycloak 26.6.2+ also answers inactive when the introspecting client
//     is not in the token's aud: if tokens that verify locally come back
//     inactive, add an audience mapper for the introspecting client to the
//     client that requests the tokens.
//   - ErrRejected: active, but exp, iss or the audience rule failed here.
//     Answer 401.
//   - ErrUnavailable: network failure, timeout or 5xx. The token's state is
//     unknown: answer 503, not 401.
//   - ErrInvalidResponse: a malformed answer; treat like ErrUnavailable.
//   - *Error: an RFC 6749 error answer with Code, Description and HTTP Status
//     (errors.As). It wraps ErrClientAuth for failed client authentication
//     (Keycloak: 401, and 403 for a public client on the introspection
//     endpoint) and ErrUnavailable for 5xx.
//   - ErrConfig: the configuration does not allow the call.
//
// Errors never contain the token; upstream descriptions are truncated and
// have the token cut out.
//
// # Cache
//
// NewCache puts a Cache in front of any Introspector (normally a *Client).
// Active answers are kept for min(exp − now, MaxPositiveTTL, half the
// remaining life) — the iGov/HEART bound — and every hit rechecks exp.
// Inactive and rejected answers go to a separate bounded LRU with their own
// TTL, so a flood of garbage tokens evicts only other negative entries.
// Entries are keyed by a keyed hash (hash/maphash, random seed per Cache; of
// the length, head and tail of long tokens, so a hit costs the same for any
// token size) and compared in full on a hit. Identical concurrent misses
// share one upstream call, run by the caller that started it with its own
// timeout; each waiter honours its own context, and when the caller that
// runs the call leaves, the waiters start another.
// Upstream failures are never cached. Call Forget when a token is revoked
// (ForgetAll empties the cache).
// A cached answer cannot see a revocation made elsewhere (RFC 7662 §4): the
// TTLs bound how long it may be stale.
//
// # Observability
//
// Config.Observe receives an Event for every HTTP exchange (Kind
// UpstreamCall, with endpoint, status, latency and error) and
// CacheConfig.Observe one for every cache decision (CacheHit,
// CacheNegativeHit, CacheMiss, CacheCoalesced); metrics plug in there. Logging goes only to
// Config.Logger. Neither ever sees a token or a secret.
//
// Client and Cache are safe for concurrent use and start no goroutines;
// Cache.Close cancels the upstream calls in flight.
package introspect
