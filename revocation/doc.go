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
// beyond that fails with ErrFull the same way). For the Redis store
// MaxEntries also bounds the shared list in Redis, where every entry
// counts, issuer not-before and SeenOnce records included (see Redis).
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
// Lua script that, atomically, stores the entry as a key that expires at
// the entry's end of life (the value only tightens), indexes it in a
// sorted set scored by that end of life, increments a sequence counter,
// and appends it to a stream. The call returns only after Redis has
// answered (and, with RedisConfig.WaitReplicas, after that many Redis
// replicas have confirmed it); an unreachable Redis is an error wrapping
// ErrUnavailable and nothing is kept locally (a write the replicas do not
// confirm in time also fails with ErrUnavailable, but Redis and the
// mirrors apply it). Then the entry is put into
// the local mirror (a Memory store) so the writing replica sees it at once,
// and every replica's follower goroutine applies it from the stream. Check
// is always answered from the mirror.
//
// One clock decides what Redis keeps: Redis's own. The scripts read it
// (TIME) to clean ended entries out of the index, to ignore an entry that
// has already ended, and to start the life of a token without exp; every
// other end of life is absolute (PXAT), computed from the token's exp or
// the cut-off the caller gives, never from the writer's clock. A replica
// whose clock is off can neither expire another's entries nor skip its
// own: its clock only decides what its own mirror keeps, which is what its
// own verifier would accept anyway.
//
// Streams rather than pub/sub: pub/sub is fire-and-forget, so every
// reconnect would need a full reload, and a message published while a
// replica reconnects is simply lost. A stream keeps an ordered log: a
// replica resumes from its last ID after a disconnect without reloading,
// and the sequence number in each entry lets it prove it missed nothing.
//
// Bootstrap at start, and after a gap: the replica reads the newest stream
// ID and sequence number atomically, then loads every live entry (ZSCAN of
// the index, and the entries read in batches with Redis's time), then
// follows the stream from the captured ID. A revocation written during the
// load has a later ID and is replayed; replays are harmless because values
// only tighten. An entry indexed as live whose key is gone was lost
// (evicted, or deleted), not "expired since the scan": every entry expires
// exactly at its index score. The first load also writes the deny-list's
// epoch, a random value that never expires.
//
// Audit: at least every BlockTimeout, and whenever an entry does not carry
// the next sequence number, the follower runs one read-only script that
// sets its position (last ID and sequence number) against the stream and
// reads the epoch, the number of live entries, the refusals and losses
// recorded, and Redis's memory settings. Entries it has not read that were
// trimmed away (StreamMaxLen, XTRIM) make it reload; the entries
// themselves are intact. A stream that no longer continues what the
// replica read (the counter went back, its last entry is gone while older
// ones remain, the entry after it carries another number) or an epoch that
// changed means Redis lost entries: a failover to a replica that had not
// received them, a restart without persistence, a FLUSHALL. The replica
// reloads, reports degraded until every token the lost entries could match
// has expired (their end of life when it remembers them, else the latest
// end of life it holds), and records the loss in Redis, so that every
// replica, also one started later, reports it. Its mirror keeps what it
// had. The design needs nothing newer than Redis 7.0 (Debian bookworm's
// version; per-field hash expiry, HEXPIRE, would need 7.4).
//
// Health: the store reports degraded
//   - from start until the first load is complete, and from the moment the
//     follower's connection fails until it has resynchronised (resumed from
//     its last ID, or reloaded, read the stream to its end and audited it);
//   - while Redis's maxmemory-policy is not noeviction (Redis may evict
//     revocations), while the policy cannot be read (the scripts call INFO),
//     and while used_memory has reached maxmemory (Redis refuses writes);
//   - while revocations Redis lost, as above, could match live tokens;
//   - while an entry this version cannot read (written by a newer one) is
//     live, whether the replica met it in the stream or in a load, so that
//     no two replicas disagree in silence;
//   - while the shared list holds MaxEntries entries (every entry counts:
//     issuer not-before and replay records too), and while a revocation it
//     refused (list full, or Redis out of memory) could match live tokens.
//     A refusal is recorded in Redis, as a stream marker for running
//     replicas and a key for those that start later;
//   - while the mirror had to refuse entries.
//
// Entries already in a degraded mirror keep refusing their tokens.
// Health.Reason says which of these it is.
//
// A closed connection (Redis killed, restarted, failed over) is noticed when
// the follower's read fails: at once with a client whose MaxRetries is -1,
// after the client's retries otherwise (go-redis retries 3 times with
// backoff by default, about a second against a refused port; an outage
// shorter than that may never be reported). Either way no revocation is
// missed: writes during the outage fail on every replica, and the follower
// resumes from its last stream ID or reloads after auditing the stream. A
// silent network partition is noticed within BlockTimeout plus 10 s
// (go-redis bounds a blocking read by its block time plus 10 s, not by
// ReadTimeout, unless the client has ContextTimeoutEnabled). Writes fail
// after the client's ReadTimeout meanwhile. A write retried by go-redis
// after a network error may run twice: harmless, values only tighten.
//
// # Redis settings
//
// The deny-list needs Redis 7.0 or newer and:
//
//   - maxmemory-policy noeviction (Redis's default). Under any eviction
//     policy Redis drops revocations it has acknowledged. The store checks
//     the policy at start and at every audit and reports degraded, naming
//     the setting, until it is noeviction. It does not refuse to start: the
//     setting can change at run time anyway, and a degraded store is safe
//     (the adapter introspects every request) while an operator fixes it.
//     Evictions Redis counts (evicted_keys) are treated as lost revocations
//     and recorded, so replicas report them also after the policy is fixed,
//     until the entries that were live then have expired.
//   - maxmemory 0, or room for the list (sizes below). At maxmemory Redis
//     refuses writes: a revocation then fails with an error wrapping
//     ErrFull, and every replica reports degraded. The scripts declare
//     their flags (Redis 7 shebang), so Redis refuses a write script as a
//     whole before it runs; an undeclared script would be let through once
//     its first command (the index cleanup, which frees memory) had run.
//   - appendonly yes and appendfsync always, so that a revocation Redis
//     acknowledged survives a Redis crash. A Redis that lost its data is
//     noticed (the epoch) by the replicas that were running, and they
//     record the loss so that replicas started later report it too; when
//     none was running, nothing is left to tell.
//   - With replicas and automatic failover (Sentinel, Redis Cluster):
//     RedisConfig.WaitReplicas set to the number of replicas a failover may
//     promote, 1 for a primary and one replica. Each write then returns
//     only once that many replicas have it (WAIT on the writing
//     connection), so a failover cannot lose an acknowledged revocation;
//     a write they do not confirm within WaitTimeout fails with
//     ErrUnavailable, and while no replica is connected every write fails.
//     min-replicas-to-write on the primary bounds the loss window only; it
//     is no substitute for WAIT. Without WaitReplicas a failover can lose
//     acknowledged revocations, and the store reports degraded as above.
//   - A Redis user that may run scripts (EVAL, EVALSHA) calling string,
//     sorted-set and stream commands, TIME and INFO, and XREAD, ZSCAN and
//     WAIT; and a Redis private to the APIs: whoever can write to it can
//     add or delete revocations.
//
// Sizes, measured by BenchmarkRedisBytesPerEntry at 1M entries: a jti
// entry with a Keycloak-shaped issuer and jti costs about 380 bytes in
// Redis (its key, about 200, and its index member, about 180) plus its
// share of the stream, whose entries cost about 130 bytes each, at most
// StreamMaxLen of them. Identifiers are stored in full, in the key, the
// index and the stream entry: with the longest ones accepted (1 KiB issuer
// and 1 KiB id) an entry costs about 5 KB and a stream entry about 2.9 KB.
// The bound is MaxEntries entries plus StreamMaxLen stream entries: about
// 410 MB for Keycloak's identifiers at the defaults, 5.6 GB at the limits.
// A replay record costs what an entry does, without a stream entry.
//
// Keys share one hash tag, "{tw}:" by default (RedisConfig.KeyPrefix), so
// each script touches a single Redis Cluster slot. The price is that the
// whole deny-list lives on one cluster shard. That is the right trade: the
// list is bounded (MaxEntries) and written rarely compared with the request
// rate it serves, checks never reach Redis, and a single ordered stream is
// what lets a replica prove it has everything. A cluster buys availability
// (with replicas and WaitReplicas), not capacity, here. Deployments that
// need more can give unrelated issuers separate stores with different
// prefixes, which lands them on different slots.
//
// SeenOnce is a replay guard for one-time messages such as back-channel
// logout tokens: a key per (iss, jti) set only if absent, expiring at exp
// plus Leeway, indexed and counted against MaxEntries like every entry,
// shared by all replicas. It fails closed: when Redis does not answer it
// returns an error, never "first".
//
// # Concurrency
//
// All methods of Memory and Redis are safe for concurrent use. Check takes
// no lock, never allocates and never does I/O. Writes to one table are
// serialised, and wait for that table's sweep. NewMemory and NewRedis start
// goroutines that Close stops.
package revocation
