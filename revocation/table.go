package revocation

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// table is a hash set of entries keyed by the 64-bit keyed hash of an
// identifier, with wait-free reads: open addressing with linear probing,
// every slot field read and written atomically, deletions as tombstones,
// and resizing by publishing a new slot array. Writers serialise on mu.
//
// Storing the hash instead of the identifier keeps an entry at 24 bytes of
// slot. Two identifiers with equal hashes would share an entry: with a
// random per-store seed the chance is about n/2^64 per check (n entries),
// and the error can only refuse a token, never accept a revoked one.
type table struct {
	mu   sync.Mutex
	cur  atomic.Pointer[slots]
	live int // entries; guarded by mu
	used int // entries plus tombstones; guarded by mu
}

// slots keeps the keys apart from the values so that a probe walks a dense
// array of keys, eight to a cache line.
type slots struct {
	mask  uint64
	h     []atomic.Uint64 // slotEmpty, slotTomb, or a key
	v     []atomic.Int64
	until []atomic.Int64
}

const (
	slotEmpty    = 0
	slotTomb     = 1
	minTableSize = 16
)

func newSlots(size int) *slots {
	return &slots{mask: uint64(size - 1), h: make([]atomic.Uint64, size),
		v: make([]atomic.Int64, size), until: make([]atomic.Int64, size)}
}

// key adjusts a hash so it never collides with the slot markers.
func key(h uint64) uint64 {
	if h <= slotTomb {
		h += 2
	}
	return h
}

// home is the first slot probed for k. The key is mixed so that keys that
// differ only in high bits do not pile up; maphash output needs no help,
// but the table should not depend on it.
func home(k, mask uint64) uint64 {
	h := k * 0x9e3779b97f4a7c15
	return (h ^ h>>32) & mask
}

// find returns the slot holding k, or -1. It never blocks.
func (sl *slots) find(k uint64) int {
	for i := home(k, sl.mask); ; i = (i + 1) & sl.mask {
		switch sl.h[i].Load() {
		case k:
			return int(i)
		case slotEmpty:
			return -1
		}
	}
}

// get returns the value stored for k.
func (t *table) get(k uint64) (v int64, ok bool) {
	sl := t.cur.Load()
	if sl == nil {
		return 0, false
	}
	if i := sl.find(k); i >= 0 {
		return sl.v[i].Load(), true
	}
	return 0, false
}

// lookup hashes id and returns its value; an empty table costs no hashing.
func (t *table) lookup(seed maphash.Seed, id string) (v int64, ok bool) {
	sl := t.cur.Load()
	if sl == nil {
		return 0, false
	}
	if i := sl.find(key(maphash.String(seed, id))); i >= 0 {
		return sl.v[i].Load(), true
	}
	return 0, false
}

// upsert raises the entry for k to at least (v, until), or inserts it after
// admit allows a new entry. It reports whether a new entry was inserted.
func (t *table) upsert(k uint64, v, until int64, admit func() error) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sl := t.cur.Load()
	if sl != nil {
		tomb := -1
		i := home(k, sl.mask)
		for ; ; i = (i + 1) & sl.mask {
			h := sl.h[i].Load()
			if h == k {
				if v > sl.v[i].Load() {
					sl.v[i].Store(v)
				}
				if until > sl.until[i].Load() {
					sl.until[i].Store(until)
				}
				return false, nil
			}
			if h == slotTomb && tomb < 0 {
				tomb = int(i)
			}
			if h == slotEmpty {
				break
			}
		}
		if err := admit(); err != nil {
			return false, err
		}
		switch {
		case tomb >= 0:
			sl.store(tomb, k, v, until)
			t.live++
			return true, nil
		case (t.used+1)*4 <= len(sl.h)*3:
			sl.store(int(i), k, v, until)
			t.live++
			t.used++
			return true, nil
		}
	} else if err := admit(); err != nil {
		return false, err
	}
	t.resize(t.live+1).insert(k, v, until)
	t.live++
	t.used = t.live
	return true, nil
}

func (sl *slots) store(i int, k uint64, v, until int64) {
	sl.v[i].Store(v)
	sl.until[i].Store(until)
	sl.h[i].Store(k) // publish last: a reader that sees k sees v and until
}

// insert places k in the first free slot of its probe sequence.
func (sl *slots) insert(k uint64, v, until int64) {
	for i := home(k, sl.mask); ; i = (i + 1) & sl.mask {
		if sl.h[i].Load() == slotEmpty {
			sl.store(int(i), k, v, until)
			return
		}
	}
}

// resize builds a slot array with room for n entries from the live ones,
// publishes it and returns it. Readers of the old array keep a consistent
// view: no writer touches it again.
func (t *table) resize(n int) *slots {
	size := minTableSize
	for size < n*2 { // load factor at most 1/2 after a resize
		size *= 2
	}
	next := newSlots(size)
	if old := t.cur.Load(); old != nil {
		for i := range old.h {
			if h := old.h[i].Load(); h > slotTomb {
				next.insert(h, old.v[i].Load(), old.until[i].Load())
			}
		}
	}
	t.cur.Store(next)
	return next
}

// sweep tombstones every entry whose end of life is at or before now, and
// compacts the array when tombstones or empty space dominate. It returns
// the number of entries removed.
func (t *table) sweep(now int64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	sl := t.cur.Load()
	if sl == nil {
		return 0
	}
	removed := 0
	for i := range sl.h {
		if sl.h[i].Load() > slotTomb && sl.until[i].Load() <= now {
			sl.h[i].Store(slotTomb)
			removed++
		}
	}
	t.live -= removed
	switch {
	case t.live == 0:
		t.cur.Store(nil)
		t.used = 0
	case (t.used-t.live)*4 > len(sl.h) || (len(sl.h) > minTableSize && t.live*8 < len(sl.h)):
		t.resize(t.live)
		t.used = t.live
	}
	return removed
}

// claim records k until the given time and reports whether it was absent
// (or present but past its end of life at now).
func (t *table) claim(k uint64, until, now int64, admit func() error) (bool, error) {
	t.mu.Lock()
	if sl := t.cur.Load(); sl != nil {
		if i := sl.find(k); i >= 0 {
			defer t.mu.Unlock()
			if sl.until[i].Load() > now {
				return false, nil
			}
			sl.until[i].Store(until)
			return true, nil
		}
	}
	t.mu.Unlock()
	// Absent: insert. upsert re-checks under the lock, so of two racing
	// claims only the one that inserts is first.
	return t.upsert(k, 0, until, admit)
}

// len returns the number of entries.
func (t *table) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live
}
