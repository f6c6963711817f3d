package revocation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig configures a Redis store.
type RedisConfig struct {
	// Config configures the local mirror. MaxEntries also bounds the shared
	// deny-list in Redis; give every replica the same values.
	Config

	// Client is the Redis connection: a *redis.Client, *redis.ClusterClient
	// or *redis.FailoverClient. Required. Close does not close it. Its
	// ReadTimeout must not be disabled (-1), or a dead connection can hang
	// the follower instead of being reported.
	Client redis.UniversalClient

	// KeyPrefix names the deny-list in Redis; every key is "{KeyPrefix}:…",
	// one hash tag, so each write script touches one Redis Cluster slot.
	// Empty means "tw". Replicas sharing a deny-list use the same prefix.
	KeyPrefix string

	// StreamMaxLen caps the propagation stream (approximate trimming). A
	// replica that falls further behind reloads everything. Zero means
	// DefaultStreamMaxLen.
	StreamMaxLen int64

	// BlockTimeout is how long one XREAD waits for new entries, and the
	// period of the follower's audit of the stream and of Redis's memory
	// settings. It bounds how long Close waits for the follower. Zero
	// means 1 s.
	BlockTimeout time.Duration

	// MaxBackoff caps the wait between reconnection attempts. Zero means 2 s.
	MaxBackoff time.Duration

	// WaitReplicas, when positive, makes every write wait until that many
	// Redis replicas have it (WAIT) before it is acknowledged, so that a
	// failover to one of them cannot lose it; a failover to a node that did
	// not confirm it can (see Redis). A write they do not confirm within
	// WaitTimeout fails with an error wrapping ErrUnavailable (it may
	// still be applied). Set it to the number of replicas a failover may
	// promote; Client must then be a *redis.Client (a FailoverClient is
	// one) or a *redis.ClusterClient. Zero: no WAIT, for a single Redis
	// with appendfsync always.
	WaitReplicas int

	// WaitTimeout bounds that wait. Zero means 1 s.
	WaitTimeout time.Duration
}

// DefaultStreamMaxLen is the default length cap of the propagation stream.
const DefaultStreamMaxLen = 100_000

const (
	readBatch  = 1000
	minBackoff = 50 * time.Millisecond
	recentLen  = 4096   // stream entries whose end of life a replica remembers
	markRound  = 60_000 // ms to which luaMark rounds the end of life of refused or lost revocations
)

// errGap reports entries missing from the stream: the mirror must reload.
var errGap = errors.New("revocation: propagation stream has a gap")

// Health reasons shared by every replica.
const (
	whyLost       = "redis lost revocations (recorded in redis by the replica that saw it)"
	whyUnreadable = "redis holds deny-list entries this version cannot read (written by a newer version?)"
)

// seqUntil is the end of life (unix ms) of the stream entry numbered seq.
type seqUntil struct{ seq, until int64 }

// Redis is a deny-list shared by replicas through Redis. Writes go to Redis
// first, atomically with an entry in a Redis stream; every replica follows
// the stream into a local Memory mirror that answers Check. It is safe for
// concurrent use. NewRedis starts a follower goroutine; Close stops it.
//
// A revocation is a Lua script that, atomically, stores the entry as a key
// that expires at the entry's end of life (the value only tightens), indexes
// it in a sorted set scored by that end of life, increments a sequence
// counter, and appends it to a stream. The call returns only after Redis has
// answered (and, with RedisConfig.WaitReplicas, after that many Redis
// replicas have confirmed it); an unreachable Redis is an error wrapping
// ErrUnavailable and nothing is kept locally (a write the replicas do not
// confirm in time also fails with ErrUnavailable, but Redis and the mirrors
// apply it). Then the entry is put into the local mirror (a Memory store) so
// the writing replica sees it at once, and every replica's follower
// goroutine applies it from the stream. Check is always answered from the
// mirror.
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
// Redis settings: the deny-list needs Redis 7.0 or newer and:
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
//     promote, 1 for a primary and one replica, and the persistence above
//     on every node. Each write then returns only once that many of the
//     replicas connected at that moment have it (WAIT on the writing
//     connection); a write they do not confirm within WaitTimeout fails
//     with ErrUnavailable, and while no replica is connected every write
//     fails. That makes a write survive a failover to a replica that
//     confirmed it, and no more: Sentinel (or the cluster) picks the node
//     to promote by replication offset among those it finds usable, and
//     knows nothing of WAIT. It can promote a node that never had the
//     write: an old primary back without its data, until it has been made
//     a replica and has resynchronised, or a replica that did not confirm
//     while those that did are unreachable. The other nodes then
//     resynchronise from it and drop what it lacks. Persistence keeps a
//     restarted node from coming back empty, and a down-after-milliseconds
//     well above the host's pauses (Sentinel's default is 30 s) keeps
//     Sentinel from failing over from a primary that is only slow; a loss
//     that happens anyway is reported as above. min-replicas-to-write on
//     the primary bounds the loss window only; it is no substitute for
//     WAIT. Without WaitReplicas a failover can lose acknowledged
//     revocations, and the store reports degraded as above.
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
type Redis struct {
	cfg    RedisConfig
	client redis.UniversalClient
	mirror *Memory

	keyIdx, keyLog, keySeq, keyPrefix string
	keyEpoch, keyFull, keyLost        string

	health     healthState
	linkMu     sync.Mutex // guards the fields up to mirrorBad; serialises recompute
	linkBad    bool
	linkWhy    string
	serverWhy  string // why Redis's settings put revocations at risk; empty when they do not
	lossUntil  int64  // revocations Redis lost, or this version cannot read, may match tokens until then (unix ms)
	lossWhy    string
	sharedFull bool // the shared list holds MaxEntries entries
	mirrorBad  atomic.Bool
	mirrorWhy  atomic.Value // string
	closed     atomic.Bool
	closeOnce  sync.Once
	cancel     context.CancelFunc
	done       chan struct{}
	afterApply func(k kind, iss, id string) // test hook, set before start

	// The end of life of the latest stream entries, by sequence number,
	// from the follower and from this replica's own writes: when Redis
	// loses entries in a failover, it bounds how long they matter.
	recentMu sync.Mutex
	recent   [recentLen]seqUntil
	wroteSeq atomic.Int64 // highest sequence number of this replica's writes

	// Follower state, owned by the follower goroutine.
	synced     bool
	lastID     string
	lastSeq    int64
	epoch      string // the deny-list's incarnation in Redis; empty until known
	maxUntil   int64  // latest end of life of any entry applied (unix ms)
	fullSeen   int64  // latest refusal end of life taken from Redis (unix ms)
	lostSeen   int64  // latest loss end of life taken from or recorded in Redis (unix ms)
	unrecorded int64  // latest loss end of life Redis refused to record; retried at each audit (unix ms)
	srvSeen    string // last reported server problem, to log each once
	evicted    int64  // Redis's evicted_keys at the last audit; -1 before the first
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Redis store and starts its follower, which loads every
// live entry into the local mirror and then follows the stream. The store
// reports degraded until that first load is complete (see WaitHealthy).
// Call Close to stop it.
func NewRedis(cfg RedisConfig) (*Redis, error) {
	r, err := newRedis(cfg)
	if err != nil {
		return nil, err
	}
	r.start()
	return r, nil
}

func newRedis(cfg RedisConfig) (*Redis, error) {
	if cfg.Client == nil {
		return nil, fmt.Errorf("%w: nil redis client", ErrInvalid)
	}
	cfg.Config = cfg.Config.withDefaults()
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "tw"
	}
	if strings.ContainsAny(cfg.KeyPrefix, "{}") {
		return nil, fmt.Errorf("%w: key prefix must not contain braces", ErrInvalid)
	}
	if cfg.StreamMaxLen <= 0 {
		cfg.StreamMaxLen = DefaultStreamMaxLen
	}
	if cfg.BlockTimeout <= 0 {
		cfg.BlockTimeout = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 2 * time.Second
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = time.Second
	}
	if cfg.WaitReplicas > 0 {
		switch cfg.Client.(type) {
		case *redis.Client, *redis.ClusterClient:
		default:
			return nil, fmt.Errorf("%w: WaitReplicas needs a *redis.Client or *redis.ClusterClient, not %T", ErrInvalid, cfg.Client)
		}
	}
	tag := "{" + cfg.KeyPrefix + "}:"
	r := &Redis{
		cfg:       cfg,
		client:    cfg.Client,
		keyPrefix: tag,
		keyEpoch:  tag + "epoch",
		keyFull:   tag + "full",
		keyLost:   tag + "lost",
		keyIdx:    tag + "idx",
		keyLog:    tag + "log",
		keySeq:    tag + "seq",
		done:      make(chan struct{}),
		lastID:    "0-0",
		evicted:   -1,
	}
	r.mirrorWhy.Store("")
	r.health.cb = cfg.Observe
	r.linkBad, r.linkWhy = true, "redis: initial load pending"
	r.health.set(true, r.linkWhy, cfg.Now())
	mc := cfg.Config
	mc.Observe = r.onMirrorHealth
	r.mirror = newMemory(mc)
	return r, nil
}

func (r *Redis) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.mirror.sweepLoop()
	go r.run(ctx)
}

// Check answers from the local mirror: no Redis round trip, no allocation.
func (r *Redis) Check(t Token) Match { return r.mirror.Check(t) }

// Health reports degraded while the mirror may lack revocations: before the
// first load, from a lost connection until the resynchronisation is
// complete, and while revocations may be missing from Redis or could not be
// stored there (see Redis).
func (r *Redis) Health() Health { return r.health.get() }

// Degraded reports Health().Degraded without locking.
func (r *Redis) Degraded() bool { return r.health.degraded.Load() }

// Len returns the number of entries in the local mirror.
func (r *Redis) Len() int { return r.mirror.Len() }

// WaitHealthy blocks until the store is healthy or ctx is done.
func (r *Redis) WaitHealthy(ctx context.Context) error {
	for {
		ch := r.health.wait()
		if !r.Degraded() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("revocation: waiting for a healthy store: %w", ctx.Err())
		case <-ch:
		}
	}
}

// Close stops the follower (waiting at most about BlockTimeout) and the
// mirror's sweeper. It does not close the Redis client. Idempotent.
func (r *Redis) Close() error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		if r.cancel != nil {
			r.cancel()
		}
	})
	if r.cancel != nil {
		<-r.done
	}
	return r.mirror.Close()
}

func (r *Redis) onMirrorHealth(h Health) {
	r.mirrorWhy.Store(h.Reason)
	r.mirrorBad.Store(h.Degraded)
	r.recompute()
}

func (r *Redis) setLink(bad bool, why string) {
	r.linkMu.Lock()
	r.linkBad, r.linkWhy = bad, why
	r.linkMu.Unlock()
	r.recompute()
}

func (r *Redis) recompute() {
	r.linkMu.Lock()
	defer r.linkMu.Unlock()
	now := r.cfg.Now()
	switch {
	case r.linkBad:
		r.health.set(true, r.linkWhy, now)
	case r.serverWhy != "":
		r.health.set(true, r.serverWhy, now)
	case r.lossUntil > nanos(now)/int64(time.Millisecond):
		r.health.set(true, r.lossWhy, now)
	case r.sharedFull:
		r.health.set(true, "deny-list full (shared list in redis)", now)
	case r.mirrorBad.Load():
		r.health.set(true, r.mirrorWhy.Load().(string), now)
	default:
		r.health.set(false, "", now)
	}
}

// RevokeToken stores (iss, jti) in Redis until exp + Leeway, then in the
// local mirror. See Memory.RevokeToken for the semantics. An error wrapping
// ErrUnavailable means Redis did not confirm it: do not count on it.
func (r *Redis) RevokeToken(ctx context.Context, iss, jti string, exp time.Time) error {
	return r.write(ctx, kindToken, iss, jti, exp)
}

// RevokeSession stores (iss, sid, at); see Memory.RevokeSession.
func (r *Redis) RevokeSession(ctx context.Context, iss, sid string, at time.Time) error {
	return r.write(ctx, kindSession, iss, sid, at)
}

// RevokeSubject stores (iss, sub, notBefore); see Memory.RevokeSubject.
func (r *Redis) RevokeSubject(ctx context.Context, iss, sub string, notBefore time.Time) error {
	return r.write(ctx, kindSubject, iss, sub, notBefore)
}

// SetIssuerNotBefore stores the issuer's not-before; see
// Memory.SetIssuerNotBefore.
func (r *Redis) SetIssuerNotBefore(ctx context.Context, iss string, notBefore time.Time) error {
	return r.write(ctx, kindIssuer, iss, "", notBefore)
}

// SetClientNotBefore stores a client's not-before; see
// Memory.SetClientNotBefore.
func (r *Redis) SetClientNotBefore(ctx context.Context, iss, clientID string, notBefore time.Time) error {
	return r.write(ctx, kindClient, iss, clientID, notBefore)
}

// lifetime returns an entry's value and end of life in milliseconds, or,
// for a token without exp, its lifetime (rel) to be counted from Redis's
// clock. Nothing here depends on this replica's clock.
func (r *Redis) lifetime(k kind, iss, id string, t time.Time) (vms, ums, relms int64, err error) {
	v, until, err := r.cfg.entry(k, iss, id, t, 0)
	if err != nil {
		return 0, 0, 0, err
	}
	if k == kindToken && t.IsZero() { // until is MaxTokenLifetime + Leeway from "now"
		return 0, 0, max(ceilMillis(until), 1), nil
	}
	return ceilMillis(v), ceilMillis(until), 0, nil
}

func (r *Redis) write(ctx context.Context, k kind, iss, id string, t time.Time) error {
	if r.closed.Load() {
		return ErrClosed
	}
	vms, ums, relms, err := r.lifetime(k, iss, id, t)
	if err != nil {
		return err
	}
	member := identity(k, iss, id)
	keys := []string{r.keyPrefix + "e:" + member, r.keyIdx, r.keyLog, r.keySeq, r.keyFull}
	res, waitErr, err := r.eval(ctx, writeScript, keys, member, int(k), iss, id, vms, ums, relms,
		r.cfg.MaxEntries, r.cfg.StreamMaxLen)
	if errors.Is(err, redis.Nil) {
		return nil // ended already, by Redis's clock: matches no live token
	}
	if err != nil {
		return r.writeFailed(ctx, ums, relms, err)
	}
	reply, _ := res.([]any)
	var u, seq int64
	if len(reply) == 2 {
		us, _ := reply[0].(string)
		u, _ = strconv.ParseInt(us, 10, 64)
		seq, _ = reply[1].(int64)
	}
	if u == 0 || seq == 0 {
		return fmt.Errorf("%w: unexpected reply from the write script", ErrUnavailable)
	}
	r.wrote(seq, u)
	if err := r.mirror.put(k, iss, id, msToNs(vms), msToNs(u)); err != nil {
		return fmt.Errorf("revocation: stored in redis but not in this replica's mirror: %w", err)
	}
	return waitErr
}

// writeFailed turns a write script's error into the store's: a full list
// (FULL) or a Redis out of memory (OOM) refused the revocation, anything
// else left it unconfirmed.
func (r *Redis) writeFailed(ctx context.Context, ums, relms int64, err error) error {
	until := msToNs(ums)
	if relms > 0 {
		until = satAdd(nanos(r.cfg.Now()), msToNs(relms))
	}
	switch msg := err.Error(); {
	case strings.HasPrefix(msg, "FULL"):
		r.mirror.refused(until)
		return fmt.Errorf("%w (shared deny-list, %d entries)", ErrFull, r.cfg.MaxEntries)
	case strings.HasPrefix(msg, "OOM"):
		// Redis refused the whole script before it ran. Record the refusal
		// so every replica reports degraded (the marker may use memory
		// beyond maxmemory: it is small, and one per minute at most).
		r.mirror.refused(until)
		if merr := markScript.Run(ctx, r.client, []string{r.keyFull, r.keyLog, r.keySeq},
			ums, relms, "full", r.cfg.StreamMaxLen).Err(); merr != nil {
			r.cfg.Logger.Error("revocation: recording a refused revocation in redis", "err", merr)
		}
		return fmt.Errorf("%w (redis is out of memory: used_memory reached maxmemory): %w", ErrFull, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// eval runs a write script and, with WaitReplicas, waits on the same
// connection until that many replicas have it. err is the script's error;
// waitErr, when the script succeeded, reports replicas that did not confirm.
func (r *Redis) eval(ctx context.Context, s *redis.Script, keys []string, args ...any) (res any, waitErr, err error) {
	if r.cfg.WaitReplicas <= 0 {
		res, err = s.Run(ctx, r.client, keys, args...).Result()
		return res, nil, err
	}
	var node *redis.Client
	switch c := r.client.(type) {
	case *redis.Client:
		node = c
	case *redis.ClusterClient:
		if node, err = c.MasterForKey(ctx, keys[0]); err != nil {
			return nil, nil, err
		}
	}
	conn := node.Conn()
	defer conn.Close()
	if res, err = s.Run(ctx, conn, keys, args...).Result(); err != nil {
		return nil, nil, err
	}
	n, werr := conn.Wait(ctx, r.cfg.WaitReplicas, r.cfg.WaitTimeout).Result()
	switch {
	case werr != nil:
		waitErr = fmt.Errorf("%w: waiting for redis replicas: %w", ErrUnavailable, werr)
	case n < int64(r.cfg.WaitReplicas):
		waitErr = fmt.Errorf("%w: %d of %d redis replicas confirmed the write within %v",
			ErrUnavailable, n, r.cfg.WaitReplicas, r.cfg.WaitTimeout)
	}
	return res, waitErr, nil
}

// wrote remembers the end of life of an entry this replica wrote, by its
// stream sequence number, until the follower reads it.
func (r *Redis) wrote(seq, until int64) {
	for {
		cur := r.wroteSeq.Load()
		if seq <= cur || r.wroteSeq.CompareAndSwap(cur, seq) {
			break
		}
	}
	r.remember(seq, until)
}

func (r *Redis) remember(seq, until int64) {
	r.recentMu.Lock()
	e := &r.recent[seq%recentLen]
	if e.seq != seq {
		*e = seqUntil{seq, until}
	} else {
		e.until = max(e.until, until)
	}
	r.recentMu.Unlock()
}

// recentUntil returns the latest end of life of the stream entries numbered
// from+1 to to, or ok = false when they are not all remembered.
func (r *Redis) recentUntil(from, to int64) (until int64, ok bool) {
	if from < 0 || to-from > recentLen {
		return 0, false
	}
	r.recentMu.Lock()
	defer r.recentMu.Unlock()
	for s := from + 1; s <= to; s++ {
		e := r.recent[s%recentLen]
		if e.seq != s {
			return 0, false
		}
		until = max(until, e.until)
	}
	return until, true
}

// SeenOnce records (iss, jti) in Redis until exp + Leeway (a zero exp
// means MaxTokenLifetime), counted against MaxEntries like every entry, and
// reports whether this call was the first, on any replica. It fails
// closed: when Redis does not answer (or, with WaitReplicas, its replicas
// do not confirm) it returns false and an error wrapping ErrUnavailable;
// when the shared list is full, false and ErrFull.
func (r *Redis) SeenOnce(ctx context.Context, iss, jti string, exp time.Time) (bool, error) {
	if r.closed.Load() {
		return false, ErrClosed
	}
	now := nanos(r.cfg.Now())
	_, until, err := r.cfg.entry(kindToken, iss, jti, exp, now)
	if err != nil {
		return false, err
	}
	if until <= now {
		return false, nil // expired here: never act on it
	}
	_, ums, relms, _ := r.lifetime(kindToken, iss, jti, exp)
	member := identity(kindSeen, iss, jti)
	res, waitErr, err := r.eval(ctx, seenScript, []string{r.keyPrefix + "seen:" + member, r.keyIdx},
		member, ums, relms, r.cfg.MaxEntries)
	switch {
	case err != nil && (strings.HasPrefix(err.Error(), "FULL") || strings.HasPrefix(err.Error(), "OOM")):
		return false, fmt.Errorf("%w (shared deny-list, %d entries): %w", ErrFull, r.cfg.MaxEntries, err)
	case err != nil:
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case waitErr != nil:
		return false, waitErr
	}
	first, _ := res.(int64)
	return first == 1, nil
}

// run is the follower: load, follow, and on any failure report degraded,
// then resynchronise (resume from the last stream ID, or reload).
func (r *Redis) run(ctx context.Context) {
	defer close(r.done)
	backoff := minBackoff
	for {
		err := r.sync(ctx)
		if err == nil {
			r.setLink(false, "")
			backoff = minBackoff
			err = r.follow(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errGap) { // r.synced is false: reload at once
			r.setLink(true, "redis: propagation gap, reloading")
			continue
		}
		why := "redis: connection lost, resynchronising"
		r.setLink(true, why)
		r.cfg.Logger.Warn("revocation: redis follower", "state", why, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, r.cfg.MaxBackoff)
	}
}

// sync brings the mirror up to date: a full load when it has never loaded
// (or lost its place), then every stream entry up to the current end, then
// an audit that proves nothing was skipped.
func (r *Redis) sync(ctx context.Context) error {
	for {
		if !r.synced {
			if err := r.load(ctx); err != nil {
				return err
			}
			r.synced = true
		}
		n, err := r.read(ctx, -1)
		gap := errors.Is(err, errGap)
		if err != nil && !gap {
			return err
		}
		if !gap && n == readBatch {
			continue
		}
		ok, err := r.audit(ctx, gap)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
}

// follow blocks on the stream and applies entries until an error, auditing
// the stream at least every BlockTimeout.
func (r *Redis) follow(ctx context.Context) error {
	last := time.Now()
	for {
		_, err := r.read(ctx, r.cfg.BlockTimeout)
		gap := errors.Is(err, errGap)
		if err != nil && !gap {
			return err
		}
		if gap || time.Since(last) >= r.cfg.BlockTimeout {
			ok, err := r.audit(ctx, gap)
			if err != nil {
				return err
			}
			if !ok {
				return errGap
			}
			last = time.Now()
		}
	}
}

// auditState is auditScript's reply.
type auditState struct {
	status, newest, epoch, policy string
	seq, live, full, lost, now    int64
	used, maxmemory, evicted      int64
}

func (r *Redis) auditState(ctx context.Context, lastID string, lastSeq int64) (auditState, error) {
	var st auditState
	keys := []string{r.keyLog, r.keySeq, r.keyEpoch, r.keyIdx, r.keyFull, r.keyLost}
	res, err := auditScript.Run(ctx, r.client, keys, lastID, lastSeq).StringSlice()
	if err != nil {
		return st, err
	}
	if len(res) != 12 {
		return st, fmt.Errorf("revocation: unexpected audit reply from redis")
	}
	st.status, st.newest, st.epoch, st.policy = res[0], res[1], res[3], res[8]
	for _, n := range [...]struct {
		i int
		p *int64
	}{{2, &st.seq}, {4, &st.live}, {5, &st.full}, {6, &st.lost}, {7, &st.now}, {9, &st.used}, {10, &st.maxmemory}, {11, &st.evicted}} {
		if *n.p, err = strconv.ParseInt(res[n.i], 10, 64); err != nil {
			return st, fmt.Errorf("revocation: bad number in the audit reply from redis")
		}
	}
	return st, nil
}

// audit checks the replica's position against the stream and takes in the
// shared state. It reports whether the mirror is complete up to its
// position; when not, r.synced is false and the caller must reload. A
// stream that no longer continues what the replica read means Redis lost
// entries: the store then reports degraded until every token they could
// match has expired, and records the loss in Redis for every replica.
func (r *Redis) audit(ctx context.Context, gap bool) (bool, error) {
	wrote := r.wroteSeq.Load() // before the script: every write it counts is in Redis by then
	st, err := r.auditState(ctx, r.lastID, r.lastSeq)
	if err != nil {
		return false, err
	}
	r.takeState(ctx, st)
	switch {
	case r.epoch != "" && st.epoch != r.epoch:
		r.fullSeen, r.lostSeen = 0, 0 // the new Redis has neither
		r.lost(ctx, r.maxUntil, "redis lost its data (the deny-list's epoch changed)")
		r.forget(0)
		r.epoch = "" // the reload adopts the new one
	case st.status == "diverged" || st.seq < wrote:
		until, ok := r.recentUntil(st.seq, max(r.lastSeq, wrote))
		if !ok {
			until = r.maxUntil
		}
		r.lostSeen = 0 // a record of earlier losses may be gone too
		r.lost(ctx, until, "redis lost revocations (failover or reset: the stream went back)")
		r.forget(st.seq)
	case st.status == "trimmed" || gap:
		r.cfg.Logger.Warn("revocation: redis stream trimmed past this replica, reloading",
			"last_seq", r.lastSeq, "redis_seq", st.seq)
	default: // ok, behind
		if r.epoch == "" {
			r.epoch = r.ensureEpoch(ctx, st.epoch)
		}
		return true, nil
	}
	r.synced = false
	return false, nil
}

// takeState applies what every replica must agree on: refusals and losses
// recorded in Redis, whether the shared list is full, and whether Redis's
// settings let it drop revocations. Evictions Redis reports (evicted_keys)
// may have taken revocations: a replica that saw them happen records a loss
// until the latest end of life it holds (it has every live entry); one that
// finds them on its first look, under an evicting policy, cannot know what
// was there and records one for the longest any entry lives.
func (r *Redis) takeState(ctx context.Context, st auditState) {
	if st.full > r.fullSeen {
		r.fullSeen = st.full
		r.mirror.refused(msToNs(st.full))
	}
	if st.lost > r.lostSeen {
		r.lostSeen = st.lost
		r.degradeUntil(st.lost, whyLost)
	}
	switch {
	case r.unrecorded <= r.lostSeen:
		r.unrecorded = 0
	case r.unrecorded > nanos(r.cfg.Now())/int64(time.Millisecond):
		r.record(ctx, r.unrecorded)
	default:
		r.unrecorded = 0 // every token it could match has expired
	}
	switch {
	case r.evicted >= 0 && st.evicted > r.evicted:
		r.lost(ctx, r.maxUntil, fmt.Sprintf("redis evicted %d keys (maxmemory-policy %s): revocations may be lost",
			st.evicted-r.evicted, st.policy))
	case r.evicted < 0 && st.evicted > 0 && st.policy != "noeviction":
		life := nanos(r.cfg.Now().Add(r.cfg.MaxTokenLifetime+r.cfg.Leeway)) / int64(time.Millisecond)
		r.lost(ctx, max(r.maxUntil, life), fmt.Sprintf("redis has evicted %d keys (maxmemory-policy %s): revocations may be lost",
			st.evicted, st.policy))
	}
	r.evicted = st.evicted
	srv := serverProblem(st)
	if srv != r.srvSeen {
		r.srvSeen = srv
		if srv != "" {
			r.cfg.Logger.Error("revocation: redis settings put revocations at risk", "problem", srv)
		}
	}
	r.linkMu.Lock()
	r.serverWhy = srv
	r.sharedFull = st.live >= int64(r.cfg.MaxEntries)
	r.linkMu.Unlock()
	r.recompute()
}

// serverProblem names a Redis setting or state under which Redis may drop
// revocations or refuses them, or returns "".
func serverProblem(st auditState) string {
	switch {
	case st.policy == "":
		return "redis: cannot read maxmemory-policy (INFO not permitted?); the deny-list needs noeviction"
	case st.policy != "noeviction":
		return "redis: maxmemory-policy is " + st.policy + "; the deny-list needs noeviction (Redis may evict revocations)"
	case st.maxmemory > 0 && st.used >= st.maxmemory:
		return "redis: out of memory (used_memory reached maxmemory): revocations are refused"
	}
	return ""
}

// ensureEpoch returns the deny-list's epoch, creating it if Redis has none.
// On failure (Redis refusing writes) it returns "" and a later audit tries
// again.
func (r *Redis) ensureEpoch(ctx context.Context, epoch string) string {
	if epoch != "" {
		return epoch
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	e, err := epochScript.Run(ctx, r.client, []string{r.keyEpoch}, hex.EncodeToString(b[:])).Text()
	if err != nil {
		r.cfg.Logger.Warn("revocation: cannot record the deny-list epoch in redis", "err", err)
		return ""
	}
	return e
}

// degradeUntil makes the store report degraded, for why, until the given
// end of life (unix ms) of revocations it may be missing.
func (r *Redis) degradeUntil(until int64, why string) {
	if until <= nanos(r.cfg.Now())/int64(time.Millisecond) {
		return
	}
	r.linkMu.Lock()
	if until > r.lossUntil {
		r.lossUntil, r.lossWhy = until, why
	}
	r.linkMu.Unlock()
	r.recompute()
}

// lost handles revocations Redis lost that may matter until the given end
// of life (unix ms): the store reports degraded until then, and the loss is
// recorded in Redis so that every replica, including those started later,
// reports it too.
func (r *Redis) lost(ctx context.Context, until int64, why string) {
	if until <= nanos(r.cfg.Now())/int64(time.Millisecond) {
		return
	}
	until = (until + markRound - 1) / markRound * markRound // as luaMark rounds it
	if until <= r.lostSeen {
		r.degradeUntil(until, why) // Redis has a record that covers it
		return
	}
	r.cfg.Logger.Error("revocation: "+why, "degraded_until", time.UnixMilli(until))
	r.record(ctx, until)
	r.degradeUntil(until, why)
}

// record writes a loss into Redis for every replica. A refused write (Redis
// out of memory, read-only, unreachable) is kept and tried again at each
// audit until it lands: a replica started later must see the loss too.
func (r *Redis) record(ctx context.Context, until int64) {
	if err := markScript.Run(ctx, r.client, []string{r.keyLost, r.keyLog, r.keySeq},
		until, 0, "lost", r.cfg.StreamMaxLen).Err(); err != nil {
		if r.unrecorded == 0 { // once, not at every audit that retries
			r.cfg.Logger.Error("revocation: recording lost revocations in redis; retrying at each audit", "err", err)
		}
		r.unrecorded = max(r.unrecorded, until)
		return
	}
	r.lostSeen = max(r.lostSeen, until)
	if r.unrecorded <= r.lostSeen {
		r.unrecorded = 0
	}
}

// forget drops what the replica knew of stream entries after seq, which
// Redis no longer has: their sequence numbers will be used again.
func (r *Redis) forget(seq int64) {
	for {
		cur := r.wroteSeq.Load()
		if cur <= seq || r.wroteSeq.CompareAndSwap(cur, seq) {
			break
		}
	}
	r.recentMu.Lock()
	for i := range r.recent {
		if r.recent[i].seq > seq {
			r.recent[i] = seqUntil{}
		}
	}
	r.recentMu.Unlock()
}

// load captures the stream position, then copies every live entry from
// Redis into the mirror. Entries written during the load carry stream IDs
// after the captured one and are replayed by the follower; replays are
// harmless because values only tighten. An indexed entry whose key is gone
// before its end of life was lost (evicted or deleted): the store reports
// degraded, and records the loss for every replica.
func (r *Redis) load(ctx context.Context) error {
	st, err := r.auditState(ctx, "", 0)
	if err != nil {
		return err
	}
	if r.epoch != "" && st.epoch != r.epoch {
		r.fullSeen, r.lostSeen = 0, 0
		r.lost(ctx, r.maxUntil, "redis lost its data (the deny-list's epoch changed)")
		r.epoch = ""
	}
	var l loadResult
	var cursor uint64
	for {
		pairs, next, err := r.client.ZScan(ctx, r.keyIdx, cursor, "", readBatch).Result()
		if err != nil {
			return err
		}
		if err := r.loadBatch(ctx, pairs, &l); err != nil {
			return err
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	r.forget(st.seq)
	r.lastID, r.lastSeq = st.newest, st.seq
	r.epoch = r.ensureEpoch(ctx, st.epoch)
	r.takeState(ctx, st)
	if l.missing > 0 {
		r.lost(ctx, l.missingUntil, fmt.Sprintf(
			"redis lost %d deny-list entries (evicted or deleted before their end of life)", l.missing))
	}
	if l.unreadable > 0 {
		r.cfg.Logger.Error("revocation: deny-list entries in redis this version cannot read", "count", l.unreadable)
	}
	return nil
}

type loadResult struct {
	missing, unreadable int
	missingUntil        int64
}

func (r *Redis) loadBatch(ctx context.Context, pairs []string, l *loadResult) error {
	type item struct {
		k       kind
		iss, id string
		until   int64
	}
	items := make([]item, 0, len(pairs)/2)
	keys := make([]string, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		uf, err := strconv.ParseFloat(pairs[i+1], 64)
		if err != nil {
			return fmt.Errorf("revocation: bad score in the redis index")
		}
		u := int64(uf)
		k, iss, id, ok := parseIdentity(pairs[i])
		switch {
		case ok && k == kindSeen:
			keys = append(keys, r.keyPrefix+"seen:"+pairs[i])
		case ok && k.valid():
			keys = append(keys, r.keyPrefix+"e:"+pairs[i])
		default:
			l.unreadable++
			r.degradeUntil(u, whyUnreadable)
			continue
		}
		items = append(items, item{k, iss, id, u})
	}
	if len(keys) == 0 {
		return nil
	}
	// The time is read after the values: an entry missing from them whose
	// end of life is still ahead of it was missing while live.
	var mget *redis.SliceCmd
	var at *redis.Cmd
	if _, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		mget = p.MGet(ctx, keys...)
		at = timeScript.Eval(ctx, p, []string{r.keyLog})
		return nil
	}); err != nil {
		return err
	}
	vals := mget.Val()
	now, err := at.Int64()
	if err != nil || len(vals) != len(items) {
		return fmt.Errorf("revocation: unexpected load reply from redis")
	}
	for i, raw := range vals {
		it := items[i]
		if it.until <= now {
			continue // ended; the next write removes it from the index
		}
		s, ok := raw.(string)
		if !ok { // gone before its end of life
			l.missing++
			l.missingUntil = max(l.missingUntil, it.until)
			continue
		}
		if it.k == kindSeen {
			continue // replay records stay in Redis
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || !r.apply(it.k, it.iss, it.id, v, it.until) {
			l.unreadable++
			r.degradeUntil(it.until, whyUnreadable)
		}
	}
	return nil
}

// read applies at most one batch of stream entries after lastID, waiting
// up to block for the first (block < 0: no wait). It returns the number of
// entries applied, and errGap at an entry that does not follow the last.
func (r *Redis) read(ctx context.Context, block time.Duration) (int, error) {
	res, err := r.client.XRead(ctx, &redis.XReadArgs{
		Streams: []string{r.keyLog, r.lastID},
		Count:   readBatch,
		Block:   block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, st := range res {
		for _, msg := range st.Messages {
			seq, err := strconv.ParseInt(field(msg.Values, "s"), 10, 64)
			if err != nil || seq != r.lastSeq+1 {
				return n, errGap
			}
			if u := r.applyMessage(msg.Values); u > 0 {
				r.remember(seq, u)
			}
			r.lastID, r.lastSeq = msg.ID, seq
			n++
		}
	}
	return n, nil
}

// applyMessage applies one stream entry and returns its end of life (unix
// ms), or 0 if it has none. An entry this version cannot read makes the
// store report degraded until its end of life (or, when even that cannot
// be read, for the longest any entry lives): a fresh replica would find
// the same entry in Redis, so neither may quietly skip it.
func (r *Redis) applyMessage(vals map[string]any) int64 {
	k, err1 := strconv.ParseUint(field(vals, "k"), 10, 8)
	v, err2 := strconv.ParseInt(field(vals, "v"), 10, 64)
	u, err3 := strconv.ParseInt(field(vals, "u"), 10, 64)
	iss, id := field(vals, "i"), field(vals, "d")
	switch {
	case err3 != nil:
		life := r.cfg.MaxTokenLifetime + r.cfg.Leeway
		r.degradeUntil(nanos(r.cfg.Now().Add(life))/int64(time.Millisecond), whyUnreadable)
		r.cfg.Logger.Error("revocation: malformed stream entry in redis")
		return 0
	case err1 == nil && k == 0: // a marker: revocations were refused, or lost
		if field(vals, "w") == "lost" {
			r.lostSeen = max(r.lostSeen, u)
			r.degradeUntil(u, whyLost)
		} else {
			r.fullSeen = max(r.fullSeen, u)
			r.mirror.refused(msToNs(u))
		}
	case err1 != nil || err2 != nil || !r.apply(kind(k), iss, id, v, u):
		r.degradeUntil(u, whyUnreadable)
		r.cfg.Logger.Error("revocation: malformed stream entry in redis")
	}
	r.maxUntil = max(r.maxUntil, u)
	return u
}

// apply puts an entry received from Redis (values in ms) into the mirror.
// It reports false for an entry this version cannot read.
func (r *Redis) apply(k kind, iss, id string, vms, ums int64) bool {
	if !k.valid() || iss == "" || len(iss) > MaxIssuerLen || len(id) > MaxIDLen || (id == "") != (k == kindIssuer) {
		return false
	}
	r.maxUntil = max(r.maxUntil, ums)
	// A refusal (ErrFull) is recorded by the mirror, which reports degraded.
	_ = r.mirror.put(k, iss, id, msToNs(vms), msToNs(ums))
	if r.afterApply != nil {
		r.afterApply(k, iss, id)
	}
	return true
}

func field(vals map[string]any, name string) string {
	s, _ := vals[name].(string)
	return s
}

// identity encodes (kind, iss, id) without ambiguity: the issuer is length
// prefixed, so no choice of characters can make two entries collide.
func identity(k kind, iss, id string) string {
	return strconv.Itoa(int(k)) + strconv.Itoa(len(iss)) + ":" + iss + id
}

func parseIdentity(s string) (k kind, iss, id string, ok bool) {
	if len(s) < 3 || s[0] < '1' || s[0] > '9' {
		return 0, "", "", false
	}
	k = kind(s[0] - '0')
	n, rest, found := strings.Cut(s[1:], ":")
	if !found {
		return 0, "", "", false
	}
	if n == "" || len(n) > 9 || (n[0] == '0' && len(n) > 1) {
		return 0, "", "", false
	}
	l := 0
	for _, c := range []byte(n) {
		if c < '0' || c > '9' {
			return 0, "", "", false
		}
		l = l*10 + int(c-'0')
	}
	if l > len(rest) {
		return 0, "", "", false
	}
	return k, rest[:l], rest[l:], true
}

// msToNs converts milliseconds to nanoseconds, saturating instead of
// wrapping (values come from Redis).
func msToNs(ms int64) int64 {
	const lim = math.MaxInt64 / int64(time.Millisecond)
	switch {
	case ms > lim:
		return math.MaxInt64
	case ms < -lim:
		return math.MinInt64 + 1
	}
	return ms * int64(time.Millisecond)
}

func ceilMillis(ns int64) int64 {
	const ms = int64(time.Millisecond)
	if ns > 0 && ns%ms != 0 {
		return ns/ms + 1
	}
	return ns / ms
}
