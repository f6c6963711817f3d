package introspect

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/tokenwarden/tokenwarden/internal/jose"
)

// Introspector is what a Cache sits in front of; *Client implements it.
type Introspector interface {
	Introspect(ctx context.Context, token, hint string) (*Result, error)
}

// CacheConfig configures a Cache. Zero values are documented per field.
type CacheConfig struct {
	// PositiveSize bounds the number of cached active answers. Zero: 10,000.
	PositiveSize int
	// NegativeSize bounds the number of cached inactive/rejected answers.
	// It is a separate LRU, so a flood of garbage tokens evicts only other
	// negative entries, never an active answer. Zero: 10,000.
	NegativeSize int
	// MaxPositiveTTL bounds how long an active answer is served from the
	// cache. Zero: 5 min. An active answer is cached for
	// min(exp − now, MaxPositiveTTL, LifetimeFraction × (exp − now)).
	MaxPositiveTTL time.Duration
	// LifetimeFraction is the share of the token's remaining life an active
	// answer may be cached (iGov and HEART profiles: at most half). Zero:
	// 0.5. Must lie in (0, 1].
	LifetimeFraction float64
	// NegativeTTL is how long an inactive or rejected answer is served from
	// the cache. Zero: 1 min. Negative: such answers are not cached.
	NegativeTTL time.Duration
	// MaxTokenBytes: longer tokens are passed through and never cached.
	// Zero: 16 KiB. With NegativeSize it bounds the negative cache's memory.
	MaxTokenBytes int
	// Timeout bounds a shared upstream call, which also ends with the
	// context of the caller that runs it; the callers waiting for it then
	// start another, each on its own context. Zero: 10 s.
	Timeout time.Duration
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
	// Observe, if set, is called for every cache decision (an Event of kind
	// CacheHit, CacheNegativeHit, CacheMiss or CacheCoalesced) from the
	// calling goroutine. It must be fast and must not block.
	Observe func(Event)
}

// Cache answers repeated introspections from memory and coalesces identical
// concurrent ones into a single upstream call. Entries are keyed by a keyed
// hash (hash/maphash, random seed per Cache) of the token (its length, first
// 32 and last 128 bytes) and compared in full on a hit; every hit rechecks
// its expiry. Upstream failures (ErrUnavailable, ErrInvalidResponse, *Error,
// ErrConfig, context errors) are never cached.
//
// A Cache is safe for concurrent use and starts no goroutines: a shared
// upstream call runs on the goroutine of the caller that started it. Close
// cancels the calls in flight.
type Cache struct {
	next     Introspector
	cfg      CacheConfig
	now      func() time.Time
	seed     maphash.Seed
	pos      *lru.Cache[uint64, *entry]
	neg      *lru.Cache[uint64, *entry]
	flightMu sync.Mutex
	flights  map[uint64]*flight // shared upstream calls in flight, by key
	storeMu  sync.Mutex         // orders stores after Forget/ForgetAll: see fetch
	gen      atomic.Uint64      // bumped by Forget and ForgetAll; a call started before may not store
	closeCtx context.Context
	close    context.CancelFunc
	closed   sync.Once
}

type entry struct {
	token   string
	hint    string
	res     *Result // positive entries
	err     error   // negative entries
	expires time.Time
}

// NewCache returns a Cache in front of next.
func NewCache(next Introspector, cfg CacheConfig) (*Cache, error) {
	if next == nil {
		return nil, fmt.Errorf("%w: NewCache needs an Introspector", ErrConfig)
	}
	if cfg.PositiveSize <= 0 {
		cfg.PositiveSize = 10000
	}
	if cfg.NegativeSize <= 0 {
		cfg.NegativeSize = 10000
	}
	if cfg.MaxPositiveTTL <= 0 {
		cfg.MaxPositiveTTL = 5 * time.Minute
	}
	if cfg.LifetimeFraction == 0 {
		cfg.LifetimeFraction = 0.5
	}
	if !(cfg.LifetimeFraction > 0 && cfg.LifetimeFraction <= 1) {
		return nil, fmt.Errorf("%w: LifetimeFraction must lie in (0, 1]", ErrConfig)
	}
	if cfg.NegativeTTL == 0 {
		cfg.NegativeTTL = time.Minute
	}
	if cfg.MaxTokenBytes <= 0 {
		cfg.MaxTokenBytes = jose.DefaultMaxTokenBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	c := &Cache{next: next, cfg: cfg, now: cfg.Now, seed: maphash.MakeSeed(),
		flights: make(map[uint64]*flight)}
	if c.now == nil {
		c.now = time.Now
	}
	var err error
	if c.pos, err = lru.New[uint64, *entry](cfg.PositiveSize); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if c.neg, err = lru.New[uint64, *entry](cfg.NegativeSize); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c.closeCtx, c.close = context.WithCancel(context.Background())
	return c, nil
}

// Introspect answers from the cache or calls the wrapped Introspector,
// with the same results and errors as Client.Introspect. A caller whose ctx
// ends gets an error wrapping ErrUnavailable and ctx's error at once. The
// shared upstream call runs on the goroutine of the caller that started it
// and ends with that caller's ctx; the callers waiting for it then start
// another on their own contexts, so one impatient caller fails nobody
// else. The returned *Result is shared and must not be modified.
func (c *Cache) Introspect(ctx context.Context, token, hint string) (*Result, error) {
	if len(token) > c.cfg.MaxTokenBytes {
		c.event(CacheMiss)
		return c.next.Introspect(ctx, token, hint)
	}
	key := c.key(token)
	now := c.now()
	if e, ok := c.pos.Get(key); ok && e.fresh(token, hint, now) {
		c.event(CacheHit)
		return e.res, nil
	}
	if e, ok := c.neg.Get(key); ok && e.fresh(token, hint, now) {
		c.event(CacheNegativeHit)
		return nil, e.err
	}
	c.event(CacheMiss)
	for {
		if c.closeCtx.Err() != nil {
			return nil, fmt.Errorf("%w: cache closed", ErrUnavailable)
		}
		c.flightMu.Lock()
		f := c.flights[key]
		leader := f == nil
		if leader {
			f = &flight{token: token, hint: hint, done: make(chan struct{})}
			c.flights[key] = f
		}
		c.flightMu.Unlock()
		switch {
		case leader:
			// On this goroutine: handing the call to another one would cost
			// two goroutine wake-ups per miss, a tenth of its CPU time.
			c.fly(ctx, key, f)
			return f.res, f.err
		case f.token != token || f.hint != hint:
			// Hash collision with a different token in flight: ask on our own.
			return c.next.Introspect(ctx, token, hint)
		}
		select {
		case <-f.done:
			if f.abandoned {
				continue // its caller left: start again on our own context
			}
			c.event(CacheCoalesced)
			return f.res, f.err
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for the shared introspection: %w", ErrUnavailable, ctx.Err())
		}
	}
}

// flight is one shared upstream call; res, err and abandoned are set
// before done is closed.
type flight struct {
	token, hint string
	done        chan struct{}
	res         *Result
	err         error
	abandoned   bool // ended by its caller's context (or a panic): waiters start another
}

// fly runs the shared call f and ends it for its waiters.
func (c *Cache) fly(ctx context.Context, key uint64, f *flight) {
	f.abandoned = true // until the call returns
	defer func() {
		c.flightMu.Lock()
		if c.flights[key] == f { // Forget may have let a newer flight take the slot
			delete(c.flights, key)
		}
		c.flightMu.Unlock()
		close(f.done)
	}()
	f.res, f.err = c.fetch(ctx, key, f.token, f.hint)
	f.abandoned = f.err != nil && ctx.Err() != nil
}

// fetch runs the shared upstream call and stores a cacheable answer.
func (c *Cache) fetch(ctx context.Context, key uint64, token, hint string) (*Result, error) {
	gen := c.gen.Load()
	// A caller that missed the cache just before the previous flight for
	// this token stored its answer starts a new flight: answer it from the
	// cache instead of going upstream again.
	now := c.now()
	if e, ok := c.pos.Peek(key); ok && e.fresh(token, hint, now) {
		return e.res, nil
	}
	if e, ok := c.neg.Peek(key); ok && e.fresh(token, hint, now) {
		return nil, e.err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	stop := context.AfterFunc(c.closeCtx, cancel)
	defer stop()
	res, err := c.next.Introspect(ctx, token, hint)
	// Check the generation and store under storeMu, which Forget also holds
	// while it bumps the generation and removes: an answer computed before a
	// Forget is never stored after it.
	c.storeMu.Lock()
	defer c.storeMu.Unlock()
	if c.gen.Load() != gen || c.closeCtx.Err() != nil {
		return res, err
	}
	now = c.now()
	switch {
	case err == nil && res != nil && res.Claims != nil:
		life := res.Claims.Expiry.Sub(now)
		ttl := min(time.Duration(float64(life)*c.cfg.LifetimeFraction), c.cfg.MaxPositiveTTL)
		if ttl > 0 {
			c.remove(c.neg, key, token)
			c.pos.Add(key, &entry{token: token, hint: hint, res: res, expires: now.Add(ttl)})
		}
	case cacheableNegative(err) && c.cfg.NegativeTTL > 0:
		c.remove(c.pos, key, token)
		c.neg.Add(key, &entry{token: token, hint: hint, err: err, expires: now.Add(c.cfg.NegativeTTL)})
	}
	return res, err
}

// Hash window: a token longer than hashHead+hashTail is hashed on its
// length, first hashHead and last hashTail bytes (for a JWS: the header and
// the end of the signature), so the cost of a hit does not grow with the
// token. The hash is keyed with the cache's random seed and every hit
// compares the full token, so tokens that share the window only share a
// slot: they can displace each other's negative entries (at most what a
// flood of distinct tokens does anyway) but can never be served for one
// another, and nobody can aim at a slot without knowing the seed.
const (
	hashHead = 32
	hashTail = 128
)

// key is the cache and coalescing key of token.
func (c *Cache) key(token string) uint64 {
	if len(token) <= hashHead+hashTail {
		return maphash.String(c.seed, token)
	}
	var h maphash.Hash
	h.SetSeed(c.seed)
	n := uint64(len(token))
	h.WriteString(token[:hashHead])
	h.WriteString(token[len(token)-hashTail:])
	for range 8 {
		h.WriteByte(byte(n))
		n >>= 8
	}
	return h.Sum64()
}

// fresh reports whether e answers (token, hint) at now: the full token is
// compared, never just the hash, and a positive entry never outlives exp.
func (e *entry) fresh(token, hint string, now time.Time) bool {
	return e.token == token && e.hint == hint && now.Before(e.expires) &&
		(e.res == nil || now.Before(e.res.Claims.Expiry))
}

// remove deletes key from l if it holds token's entry (not a colliding one).
func (c *Cache) remove(l *lru.Cache[uint64, *entry], key uint64, token string) {
	if e, ok := l.Peek(key); ok && e.token == token {
		l.Remove(key)
	}
}

// cacheableNegative reports whether err is a verdict about the token rather
// than a failure to get one.
func cacheableNegative(err error) bool {
	if err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidResponse) || errors.Is(err, ErrConfig) {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return false
	}
	return errors.Is(err, ErrInactive) || errors.Is(err, ErrRejected)
}

// Forget removes token from the cache, whatever hint it was cached with, and
// keeps any call already in flight from storing its answer: call it when a
// token is revoked. The next Introspect of token goes upstream.
func (c *Cache) Forget(token string) {
	key := c.key(token)
	c.storeMu.Lock()
	c.gen.Add(1)
	c.remove(c.pos, key, token)
	c.remove(c.neg, key, token)
	c.storeMu.Unlock()
	// Later callers start a new upstream call instead of joining one whose
	// answer may predate the revocation.
	c.flightMu.Lock()
	delete(c.flights, key)
	c.flightMu.Unlock()
}

// ForgetAll empties the cache and, like Forget, keeps the calls in flight
// from storing their answers.
func (c *Cache) ForgetAll() {
	c.storeMu.Lock()
	defer c.storeMu.Unlock()
	c.gen.Add(1)
	c.pos.Purge()
	c.neg.Purge()
}

// Len returns the number of positive and negative entries (some may have
// expired but not yet been evicted).
func (c *Cache) Len() (positive, negative int) { return c.pos.Len(), c.neg.Len() }

// Close cancels the shared upstream calls in flight; later Introspect
// calls that miss the cache fail with
// ErrUnavailable. Close is idempotent and always returns nil.
func (c *Cache) Close() error {
	c.closed.Do(c.close)
	return nil
}

func (c *Cache) event(k EventKind) {
	if c.cfg.Observe != nil {
		c.cfg.Observe(Event{Kind: k})
	}
}
