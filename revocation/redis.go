package revocation

import (
	"context"
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

	// BlockTimeout is how long one XREAD waits for new entries. It bounds
	// how long Close waits for the follower. Zero means 1 s.
	BlockTimeout time.Duration

	// MaxBackoff caps the wait between reconnection attempts. Zero means 2 s.
	MaxBackoff time.Duration
}

// DefaultStreamMaxLen is the default length cap of the propagation stream.
const DefaultStreamMaxLen = 100_000

const (
	readBatch  = 1000
	minBackoff = 50 * time.Millisecond
)

// errGap reports entries missing from the stream: the mirror must reload.
var errGap = errors.New("revocation: propagation stream has a gap")

// Redis is a deny-list shared by replicas through Redis. Writes go to Redis
// first, atomically with an entry in a Redis stream; every replica follows
// the stream into a local Memory mirror that answers Check. It is safe for
// concurrent use. NewRedis starts a follower goroutine; Close stops it.
type Redis struct {
	cfg    RedisConfig
	client redis.UniversalClient
	mirror *Memory

	keyIdx, keyLog, keySeq, keyPrefix string

	health     healthState
	linkMu     sync.Mutex // guards linkBad, linkWhy; serialises recompute
	linkBad    bool
	linkWhy    string
	mirrorBad  atomic.Bool
	mirrorWhy  atomic.Value // string
	closed     atomic.Bool
	closeOnce  sync.Once
	cancel     context.CancelFunc
	done       chan struct{}
	afterApply func(k kind, iss, id string) // test hook, set before start

	// Follower state, owned by the follower goroutine.
	synced  bool
	lastID  string
	lastSeq int64
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
	tag := "{" + cfg.KeyPrefix + "}:"
	r := &Redis{
		cfg:       cfg,
		client:    cfg.Client,
		keyPrefix: tag,
		keyIdx:    tag + "idx",
		keyLog:    tag + "log",
		keySeq:    tag + "seq",
		done:      make(chan struct{}),
		lastID:    "0-0",
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
// complete, and while the mirror or the shared list had to refuse entries.
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
	switch {
	case r.linkBad:
		r.health.set(true, r.linkWhy, r.cfg.Now())
	case r.mirrorBad.Load():
		r.health.set(true, r.mirrorWhy.Load().(string), r.cfg.Now())
	default:
		r.health.set(false, "", r.cfg.Now())
	}
}

// RevokeToken stores (iss, jti) in Redis until exp + Leeway, then in the
// local mirror. See Memory.RevokeToken for the semantics. An error wrapping
// ErrUnavailable means Redis did not confirm it: nothing is enforced.
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

// writeScript stores one entry and appends it to the stream, atomically.
// Values only tighten (max of old and new). When the list is full it
// appends a "lost" marker (kind 0) instead, so every replica reports
// degraded, and fails with FULL.
//
// KEYS: entry, index, stream, seq. ARGV: member, kind, iss, id, value ms,
// until ms, now ms, max entries, stream max length.
var writeScript = redis.NewScript(`
local now = tonumber(ARGV[7])
local v = tonumber(ARGV[5])
local u = tonumber(ARGV[6])
if u <= now then return false end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[7])
local cur = redis.call('GET', KEYS[1])
if cur then
  local cv = tonumber(cur)
  if cv and cv > v then v = cv end
  local cu = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if cu and tonumber(cu) > u then u = tonumber(cu) end
elseif redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[8]) then
  local seq = redis.call('INCR', KEYS[4])
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[9], '*', 's', seq, 'k', '0', 'i', '', 'd', '', 'v', '0', 'u', ARGV[6])
  return redis.error_reply('FULL deny-list full')
end
local vs = string.format('%.0f', v)
local us = string.format('%.0f', u)
redis.call('SET', KEYS[1], vs, 'PX', string.format('%.0f', u - now))
redis.call('ZADD', KEYS[2], us, ARGV[1])
local seq = redis.call('INCR', KEYS[4])
return redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[9], '*', 's', seq, 'k', ARGV[2], 'i', ARGV[3], 'd', ARGV[4], 'v', vs, 'u', us)
`)

// positionScript returns the newest stream ID and the sequence number of
// the entry carrying it, atomically. KEYS: stream, seq.
var positionScript = redis.NewScript(`
local e = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id = '0-0'
if e[1] then id = e[1][1] end
return {id, redis.call('GET', KEYS[2]) or '0'}
`)

func (r *Redis) write(ctx context.Context, k kind, iss, id string, t time.Time) error {
	if r.closed.Load() {
		return ErrClosed
	}
	now := nanos(r.cfg.Now())
	v, until, err := r.cfg.entry(k, iss, id, t, now)
	if err != nil {
		return err
	}
	vms, ums, nowms := ceilMillis(v), ceilMillis(until), now/int64(time.Millisecond)
	if ums <= nowms {
		return nil // matches no live token
	}
	member := identity(k, iss, id)
	keys := []string{r.keyPrefix + "e:" + member, r.keyIdx, r.keyLog, r.keySeq}
	err = writeScript.Run(ctx, r.client, keys, member, int(k), iss, id, vms, ums, nowms,
		r.cfg.MaxEntries, r.cfg.StreamMaxLen).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return nil
	case err != nil && strings.HasPrefix(err.Error(), "FULL"):
		r.mirror.refused(msToNs(ums))
		return fmt.Errorf("%w (shared deny-list, %d entries)", ErrFull, r.cfg.MaxEntries)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := r.mirror.put(k, iss, id, msToNs(vms), msToNs(ums)); err != nil {
		return fmt.Errorf("revocation: stored in redis but not in this replica's mirror: %w", err)
	}
	return nil
}

// SeenOnce records (iss, jti) in Redis with SET NX PX until exp + Leeway
// (a zero exp means MaxTokenLifetime) and reports whether this call was the
// first, on any replica. It fails closed: when Redis does not answer it
// returns (false, error wrapping ErrUnavailable).
func (r *Redis) SeenOnce(ctx context.Context, iss, jti string, exp time.Time) (bool, error) {
	if r.closed.Load() {
		return false, ErrClosed
	}
	now := nanos(r.cfg.Now())
	_, until, err := r.cfg.entry(kindToken, iss, jti, exp, now)
	if err != nil {
		return false, err
	}
	ttl := time.Duration(until - now)
	if ttl <= 0 {
		return false, nil // expired: never act on it
	}
	ttl = max(ttl, time.Millisecond)
	first, err := r.client.SetNX(ctx, r.keyPrefix+"seen:"+identity(kindSeen, iss, jti), "1", ttl).Result()
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return first, nil
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
		why := "redis: connection lost, resynchronising"
		if errors.Is(err, errGap) {
			why = "redis: propagation gap, reloading"
			r.synced = false
		}
		r.setLink(true, why)
		r.cfg.Logger.Warn("revocation: redis follower", "state", why, "err", err)
		if errors.Is(err, errGap) {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, r.cfg.MaxBackoff)
	}
}

// sync brings the mirror up to date: a full load when it has never loaded
// (or lost its place), then every stream entry up to the current end.
func (r *Redis) sync(ctx context.Context) error {
	if !r.synced {
		if err := r.load(ctx); err != nil {
			return err
		}
		r.synced = true
	}
	for {
		n, err := r.read(ctx, -1)
		if errors.Is(err, errGap) {
			r.synced = false
			if err := r.load(ctx); err != nil {
				return err
			}
			r.synced = true
			continue
		}
		if err != nil {
			return err
		}
		if n < readBatch {
			return nil
		}
	}
}

// load captures the stream position, then copies every live entry from
// Redis into the mirror. Entries written during the load carry stream IDs
// after the captured one and are replayed by the follower; replays are
// harmless because values only tighten.
func (r *Redis) load(ctx context.Context) error {
	pos, err := positionScript.Run(ctx, r.client, []string{r.keyLog, r.keySeq}).StringSlice()
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("revocation: unexpected stream position reply")
	}
	seq, err := strconv.ParseInt(pos[1], 10, 64)
	if err != nil {
		return fmt.Errorf("revocation: bad sequence number in redis")
	}
	var cursor uint64
	for {
		pairs, next, err := r.client.ZScan(ctx, r.keyIdx, cursor, "", readBatch).Result()
		if err != nil {
			return err
		}
		if err := r.loadBatch(ctx, pairs); err != nil {
			return err
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	r.lastID, r.lastSeq = pos[0], seq
	return nil
}

func (r *Redis) loadBatch(ctx context.Context, pairs []string) error {
	nowms := nanos(r.cfg.Now()) / int64(time.Millisecond)
	members := make([]string, 0, len(pairs)/2)
	untils := make([]int64, 0, len(pairs)/2)
	keys := make([]string, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		u, err := strconv.ParseFloat(pairs[i+1], 64)
		if err != nil || int64(u) <= nowms {
			continue
		}
		members = append(members, pairs[i])
		untils = append(untils, int64(u))
		keys = append(keys, r.keyPrefix+"e:"+pairs[i])
	}
	if len(keys) == 0 {
		return nil
	}
	vals, err := r.client.MGet(ctx, keys...).Result()
	if err != nil {
		return err
	}
	for i, raw := range vals {
		s, ok := raw.(string)
		if !ok {
			continue // expired since the scan
		}
		v, err := strconv.ParseInt(s, 10, 64)
		k, iss, id, ok2 := parseIdentity(members[i])
		if err != nil || !ok2 {
			r.cfg.Logger.Error("revocation: malformed deny-list entry in redis")
			continue
		}
		r.apply(k, iss, id, v, untils[i])
	}
	return nil
}

// follow blocks on the stream and applies entries until an error.
func (r *Redis) follow(ctx context.Context) error {
	for {
		if _, err := r.read(ctx, r.cfg.BlockTimeout); err != nil {
			return err
		}
	}
}

// read applies at most one batch of stream entries after lastID, waiting
// up to block for the first (block < 0: no wait). It returns the number of
// entries applied.
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
			r.applyMessage(msg.Values)
			r.lastID, r.lastSeq = msg.ID, seq
			n++
		}
	}
	return n, nil
}

func (r *Redis) applyMessage(vals map[string]any) {
	k, err1 := strconv.ParseUint(field(vals, "k"), 10, 8)
	v, err2 := strconv.ParseInt(field(vals, "v"), 10, 64)
	u, err3 := strconv.ParseInt(field(vals, "u"), 10, 64)
	iss, id := field(vals, "i"), field(vals, "d")
	if err1 != nil || err2 != nil || err3 != nil {
		r.cfg.Logger.Error("revocation: malformed stream entry in redis")
		return
	}
	if k == 0 { // another replica's revocation was refused: the list is full
		r.mirror.refused(msToNs(u))
		return
	}
	r.apply(kind(k), iss, id, v, u)
}

// apply puts an entry received from Redis (values in ms) into the mirror.
func (r *Redis) apply(k kind, iss, id string, vms, ums int64) {
	if !k.valid() || len(iss) > MaxIssuerLen || len(id) > MaxIDLen {
		r.cfg.Logger.Error("revocation: malformed deny-list entry in redis")
		return
	}
	// A refusal (ErrFull) is recorded by the mirror, which reports degraded.
	_ = r.mirror.put(k, iss, id, msToNs(vms), msToNs(ums))
	if r.afterApply != nil {
		r.afterApply(k, iss, id)
	}
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
