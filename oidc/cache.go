package oidc

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"
)

// tokenCache maps verified content to its immutable Claims.
//
// The slot is chosen by hash/maphash with a per-cache random seed over the
// token's signing input (header and payload, what the signature covers), not
// over the whole string: an ES* token has two valid signatures, (r, s) and
// (r, n−s), and both spellings of one content share a slot, so forgetting
// either forgets the content. A hit additionally requires the stored token
// (the spelling that was verified) to equal the presented one byte for byte,
// so neither a prefix, a suffix, the other spelling nor a hash collision can
// return claims without a full verification. Entries expire at min(exp,
// insert+maxTTL); exp and nbf are rechecked on every hit. An entry also
// records the generation of the key set it was verified against: once the
// key set has been reloaded, a hit needs the same generation, so a token
// whose key left the JWKS is verified again (and refused) instead of being
// answered from the cache. Each shard is a bounded LRU; a hit moves the
// entry to the front without allocating.
type tokenCache struct {
	seed     maphash.Seed
	maxTTL   time.Duration
	perShard int
	shards   [cacheShards]cacheShard
}

const cacheShards = 16

type cacheShard struct {
	mu         sync.Mutex
	m          map[uint64]*cacheEntry
	head, tail *cacheEntry // head is the most recently used
	_          [40]byte    // keep shards on separate cache lines
}

type cacheEntry struct {
	hash       uint64
	token      string
	claims     *Claims
	deadline   int64  // unix nanoseconds; the entry is dead from here on
	validFrom  int64  // unix nanoseconds; max(nbf, iat) - leeway
	gen        uint64 // key-set generation at verification
	prev, next *cacheEntry
}

func newTokenCache(maxEntries int, maxTTL time.Duration) *tokenCache {
	c := &tokenCache{seed: maphash.MakeSeed(), maxTTL: maxTTL}
	c.perShard = (maxEntries + cacheShards - 1) / cacheShards
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]*cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(h uint64) *cacheShard { return &c.shards[h%cacheShards] }

// signingInput returns the part of a compact JWS its signature covers: all
// before the last dot.
func signingInput(token string) string {
	// strings.LastIndexByte walks back a byte at a time; the signature
	// lengths of the usual algorithms and keys are tried first (EdDSA and
	// ES256, ES384, ES512, RSA 2048, 3072, 4096), each confirmed by a
	// forward search, which is vectorised.
	n := len(token)
	for _, l := range [...]int{86, 128, 176, 342, 512, 683} {
		if n > l && token[n-l-1] == '.' && strings.IndexByte(token[n-l:], '.') < 0 {
			return token[:n-l-1]
		}
	}
	if i := strings.LastIndexByte(token, '.'); i >= 0 {
		return token[:i]
	}
	return token
}

// hash is the keyed slot hash of token's signing input.
func (c *tokenCache) hash(token string) uint64 {
	return maphash.String(c.seed, signingInput(token))
}

func (s *cacheShard) unlink(e *cacheEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *cacheShard) pushFront(e *cacheEntry) {
	e.prev, e.next = nil, s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

func (s *cacheShard) remove(e *cacheEntry) {
	s.unlink(e)
	delete(s.m, e.hash)
}

// get returns the claims cached for exactly token (byte for byte) verified
// against key-set generation gen, or nil.
func (c *tokenCache) get(token string, now time.Time, gen uint64) *Claims {
	h := c.hash(token)
	s := c.shard(h)
	t := now.UnixNano()
	s.mu.Lock()
	e := s.m[h]
	if e == nil || e.token != token {
		s.mu.Unlock()
		return nil
	}
	if t >= e.deadline {
		s.remove(e)
		s.mu.Unlock()
		return nil
	}
	if t < e.validFrom || e.gen != gen {
		s.mu.Unlock()
		return nil
	}
	if s.head != e {
		s.unlink(e)
		s.pushFront(e)
	}
	cl := e.claims
	s.mu.Unlock()
	return cl
}

// put caches claims for token. The entry never outlives exp.
func (c *tokenCache) put(token string, cl *Claims, now time.Time, leeway time.Duration, gen uint64) {
	deadline := cl.Expiry.UnixNano()
	if d := now.Add(c.maxTTL).UnixNano(); d < deadline {
		deadline = d
	}
	t := now.UnixNano()
	if deadline <= t {
		return
	}
	var validFrom int64
	for _, v := range [2]time.Time{cl.NotBefore, cl.IssuedAt} {
		if !v.IsZero() {
			if f := v.Add(-leeway).UnixNano(); f > validFrom {
				validFrom = f
			}
		}
	}
	h := c.hash(token)
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[h]
	if e != nil {
		s.unlink(e) // same slot: replace (also on a hash collision)
	} else {
		if len(s.m) >= c.perShard && s.tail != nil {
			e = s.tail
			s.remove(e) // evict the least recently used entry and reuse it
		} else {
			e = &cacheEntry{}
		}
		e.hash = h
		s.m[h] = e
	}
	e.token, e.claims, e.deadline, e.validFrom, e.gen = token, cl, deadline, validFrom, gen
	s.pushFront(e)
}

// forget removes the entry of token's signing input, whichever spelling of
// the signature was cached, and reports whether there was one.
func (c *tokenCache) forget(token string) bool {
	h := c.hash(token)
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[h]; e != nil && signingInput(e.token) == signingInput(token) {
		s.remove(e)
		return true
	}
	return false
}

func (c *tokenCache) forgetFunc(match func(*Claims) bool) int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for e := s.head; e != nil; {
			next := e.next
			if match(e.claims) {
				s.remove(e)
				n++
			}
			e = next
		}
		s.mu.Unlock()
	}
	return n
}

func (c *tokenCache) purge() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.head, s.tail = nil, nil
		s.mu.Unlock()
	}
}

// len returns the number of entries (for tests).
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
