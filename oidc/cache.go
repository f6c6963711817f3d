package oidc

import (
	"hash/maphash"
	"sync"
	"time"
)

// tokenCache maps a verified token string to its immutable Claims.
//
// The slot is chosen by hash/maphash with a per-cache random seed over the
// token's length and last bytes (its signature, see hashTail); a hit
// additionally requires the stored token to equal the presented one byte for
// byte, so neither a prefix, a suffix nor a hash collision can return another
// token's claims. Entries
// expire at min(exp, insert+maxTTL); exp and nbf are rechecked on every hit.
// An entry also records the generation of the key set it was verified
// against: once the key set has been reloaded, a hit needs the same
// generation, so a token whose key left the JWKS is verified again (and
// refused) instead of being answered from the cache.
// Each shard is a bounded LRU; a hit moves the entry to the front without
// allocating.
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

// hashTail is how many trailing bytes of a token the slot hash covers. Only
// verified tokens are ever inserted, and their tails are signature bytes,
// which differ between any two tokens; a hit still needs the whole token to
// be equal, so an attacker who makes tails collide only causes misses.
const hashTail = 96

// hash is the keyed slot hash of token: its length and last hashTail bytes.
func (c *tokenCache) hash(token string) uint64 {
	tail := token
	if len(tail) > hashTail {
		tail = tail[len(tail)-hashTail:]
	}
	return maphash.String(c.seed, tail) ^ uint64(len(token))*0x9e3779b97f4a7c15
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

// get returns the claims cached for exactly token, or nil.
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

func (c *tokenCache) forget(token string) bool {
	h := c.hash(token)
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[h]; e != nil && e.token == token {
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
