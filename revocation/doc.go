// Package revocation is tokenwarden's deny-list: it answers, in memory and
// in O(1), whether a verified access token has been revoked — by its jti,
// its session, its subject's not-before, or its issuer's or client's
// not-before — on every replica of an API. adapter.New gives an API a
// [Memory] store, which serves one process; use [NewRedis] when replicas
// must share revocations, and the [Store] methods to revoke from code
// paths of your own.
//
// The package knows nothing of JWTs. The caller passes the verified
// identity of a token as a [Token] and gets a [Match] back. Revocations come
// from logout handlers, OpenID back-channel logout, Keycloak's admin-URL
// pushes (k_push_not_before, k_logout), inactive introspection answers and
// operators.
//
// # Semantics
//
// Times are compared as given (a Keycloak iat has whole seconds); the Redis
// store rounds stored times up to the millisecond, which can only refuse
// more. "No iat" means Token.IssuedAt is zero.
//
//	entry                         refuses a token of the same issuer when        kept until
//	RevokeToken(iss, jti, exp)    its jti equals jti                             exp + Leeway (zero exp: now + MaxTokenLifetime + Leeway)
//	RevokeSession(iss, sid, at)   its sid equals sid and iat <= at, or no iat    at + MaxTokenLifetime + Leeway
//	RevokeSubject(iss, sub, nbf)  its sub equals sub and iat < nbf, or no iat    nbf + MaxTokenLifetime + Leeway
//	SetIssuerNotBefore(iss, nbf)  iat < nbf, or no iat                           nbf + MaxTokenLifetime + Leeway
//	SetClientNotBefore(iss, c, nbf) its ClientID equals c and iat < nbf, or no iat  nbf + MaxTokenLifetime + Leeway
//
// Check tests the entries in that order and returns the first match:
// TokenMatch, SessionMatch, SubjectMatch, IssuerMatch,
// ClientMatch, else NoMatch. Together the last two implement
// Keycloak's rule "stale if iat < max(realm not-before, client not-before)"
// (Keycloak once used min, CVE-2026-8922).
//
// The rules behind the table (values only tighten, Keycloak's strict
// iat < notBefore) are on [Store]; bounds, memory and restarts on [Config]
// and [Memory]; how the Redis store keeps replicas in step, when it
// reports degraded, and the Redis settings it needs, on [Redis].
//
// # Concurrency
//
// All methods of Memory and Redis are safe for concurrent use. Check takes
// no lock, never allocates and never does I/O. Writes to one table are
// serialised, and wait for that table's sweep. NewMemory and NewRedis start
// goroutines that Close stops.
package revocation
