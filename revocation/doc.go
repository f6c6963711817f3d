// Package revocation is tokenwarden's deny-list: it answers, in memory and
// in O(1), whether a verified access token has been revoked — by its jti,
// its session, its subject's not-before, or its issuer's or client's
// not-before — on every replica of an API.
//
// The package knows nothing of JWTs. The caller passes the verified
// identity of a token as a Token and gets a Match back. Revocations come
// from logout handlers, OpenID back-channel logout, Keycloak's admin-URL
// pushes (k_push_not_before, k_logout), inactive introspection answers and
// operators.
//
// # Semantics
//
// Times are compared as given (a Keycloak iat has whole seconds); the Redis
// store rounds stored times up to the millisecond, which can only refuse
// more. "No iat"
// means Token.IssuedAt is zero.
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
// (KEYCLOAK.md; Keycloak once used min, CVE-2026-8922).
//
// Decisions worth knowing:
//
//   - Not-before and session times only move forward: storing a lower value
//     than the stored one changes nothing, so a replayed or reordered
//     message can never re-enable tokens.
//   - Subject, issuer and client not-before use Keycloak's strict rule
//     iat < notBefore: a token issued in the same second as the push stays
//     valid, exactly as Keycloak's own introspection judges it. Pass
//     notBefore+1s to refuse that second too.
//   - A session refuses its tokens with iat <= at, so a token minted in the
//     same second as the logout is refused. A token of the same sid with a
//     later iat passes: the provider minted it after the session was ended
//     (Keycloak refuses to refresh an ended session, so that means the
//     provider itself considers the sid alive, e.g. an offline session).
//     Give at in the provider's clock (the logout token's iat) when there
//     is one, so clock skew between provider and API cannot widen the gap.
//     To end every token of a user regardless of session, revoke the
//     subject.
//   - A token without iat cannot be ordered against a not-before or a
//     session time, so it is refused whenever such an entry matches it.
//   - A matching entry refuses the token until the entry is swept; the
//     sweep removes an entry only after its end of life, when no token it
//     can match is still valid (given MaxTokenLifetime is right).
//
// # Lifetime and memory
//
// Entries are never evicted early. MaxTokenLifetime (default 24 h) must be
// at least the longest lifetime of any access token the issuers can mint;
// for Keycloak, the largest access-token lifespan of the realm and its
// clients (Keycloak bounds tokens by the SSO session max and, for offline
// tokens, the offline session max, so those are safe upper bounds). Leeway
// (default 1 min) covers the clock skew the verifier tolerates on exp.
//
// MaxEntries bounds memory. When the store is full, a new revocation fails
// with an error wrapping ErrFull, old entries are kept, and the store
// reports degraded until every token the refused revocation could have
// matched has expired; the caller should then confirm tokens by
// introspection and answer 503 to the sender of the refused revocation.
// A store also holds at most 1024 distinct issuers (an entry for a new one
// beyond that fails with ErrFull the same way).
//
// Entries live in open-addressing hash tables, one per issuer and kind,
// keyed by a 64-bit keyed hash (hash/maphash, random seed per store) of the
// identifier; the identifier itself is not kept. An entry costs about 50
// bytes at 1M jti entries, whatever the jti's length (measured by
// BenchmarkMemoryBytesPerEntry). Two identifiers with the same hash would
// share an entry: the chance is about n/2^64 per check for n entries, and
// such a collision can only refuse a token, never accept a revoked one.
// Checks are wait-free: they take no lock, so neither writers nor the
// background sweep of expired entries ever delay them.
//
// The Memory store has no snapshot file: a single replica that restarts
// starts empty. Persistence is the Redis store's job (Redis with AOF), and
// a restarted replica bootstraps from it; a snapshot would duplicate that
// with a weaker story (a crash loses what came after the last snapshot, and
// the file would need its own integrity and freshness rules).
//
// # Redis
//
// The Redis store shares the deny-list between replicas. A revocation is a
// Lua script that, atomically, stores the entry as a key with a TTL equal to
// its remaining life (the value only tightens), indexes it in a sorted set
// scored by its end of life, increments a sequence counter, and appends it
// to a stream. The call returns only after Redis has answered; an
// unreachable Redis is an error wrapping ErrUnavailable and nothing is kept
// locally. Then the entry is put into the local mirror (a Memory store) so
// the writing replica sees it at once, and every replica's follower
// goroutine applies it from the stream. Check is always answered from the
// mirror.
//
// Streams rather than pub/sub: pub/sub is fire-and-forget, so every
// reconnect would need a full reload, and a message published while a
// replica reconnects is simply lost. A stream keeps an ordered log: a
// replica resumes from its last ID after a disconnect without reloading,
// and the sequence number in each entry lets it prove it missed nothing. If
// the sequence jumps (the stream was trimmed past the replica, capped by
// StreamMaxLen, or Redis lost its data) the replica reloads everything.
//
// Bootstrap at start, and after a gap: the replica reads the newest stream
// ID and sequence number atomically, then loads every live entry (ZSCAN of
// the index and MGET of the entries), then follows the stream from the
// captured ID. A revocation written during the load has a later ID and is
// replayed; replays are harmless because values only tighten. The design
// needs nothing newer than Redis 7.0 (Debian bookworm's version; per-field
// hash expiry, HEXPIRE, would need 7.4).
//
// Health: the store reports degraded from start until the first load is
// complete, from the moment the follower's connection fails until it has
// resynchronised (resumed from its last ID, or reloaded, and read the
// stream to its end), and while the mirror or the shared list had to refuse
// a revocation (a refusal on any replica is written to the stream as a
// marker, so every replica learns of it). Entries already in a degraded
// mirror keep refusing their tokens.
//
// A closed connection (Redis killed, restarted, failed over) is noticed when
// the follower's read fails: at once with a client whose MaxRetries is -1,
// after the client's retries otherwise (go-redis retries 3 times with
// backoff by default, about a second against a refused port; an outage
// shorter than that may never be reported). Either way no revocation is
// missed: writes during the outage fail on every replica, and the follower
// resumes from its last stream ID or reloads on a sequence gap. A silent network partition within BlockTimeout plus 10 s (go-redis
// bounds a blocking read by its block time plus 10 s, not by ReadTimeout,
// unless the client has ContextTimeoutEnabled). Writes fail after the
// client's ReadTimeout meanwhile. A write retried by go-redis after a network error may run
// twice: harmless, values only tighten.
//
// Keys share one hash tag, "{tw}:" by default (RedisConfig.KeyPrefix), so
// each script touches a single Redis Cluster slot. The price is that the
// whole deny-list lives on one cluster shard. That is the right trade: the
// list is small (about a hundred bytes per entry in Redis, MaxEntries
// bounded) and written rarely compared with the request rate it serves,
// checks never reach Redis, and a single ordered stream is what lets a
// replica prove it has everything. A cluster buys availability (with
// replicas), not capacity, here. Deployments that need more can give
// unrelated issuers separate stores with different prefixes, which lands
// them on different slots.
//
// Durability: a revocation acknowledged by Redis must survive a Redis
// crash, or a restarted Redis would serve replicas a list without it.
// Run Redis with appendonly yes and appendfsync always (what the tests
// do), or use replicas with WAIT; with weaker settings a crash can lose the
// last writes. Replicas that were running keep what they had.
//
// SeenOnce is a replay guard for one-time messages such as back-channel
// logout tokens: SET NX PX on a key per (iss, jti), shared by all replicas.
// It fails closed: when Redis does not answer it returns an error, never
// "first".
//
// # Concurrency
//
// All methods of Memory and Redis are safe for concurrent use. Check takes
// no lock, never allocates and never does I/O. Writes to one table are
// serialised, and wait for that table's sweep. NewMemory and NewRedis start
// goroutines that Close stops.
package revocation
