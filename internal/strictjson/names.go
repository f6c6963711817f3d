package strictjson

import (
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Repeated names are found by comparing each new name with the earlier ones
// while an object has at most linearNames members (the common case: a JOSE
// header, a role object), and through an open-addressing table of keyed
// hashes beyond. The hash is taken over the name's case-folded form, so two
// names that strings.EqualFold finds equal always land on the same hash, and
// a hash match is confirmed with strings.EqualFold. The seed is random per
// process: nobody can pick names that collide, so an object of n members
// costs O(n) however it is built (a plain pairwise check costs O(n²), which
// on an unsigned 64 KiB token is hundreds of milliseconds).
const (
	linearNames = 8
	tableStart  = 64      // first table size; a table is at most half full
	tableKeep   = 1 << 15 // larger tables are not pooled
)

// table is an open-addressing set of names. A slot holds the index of a
// name in names plus one; 0 is empty. Pooled tables keep their capacity, so
// reading objects of thousands of members one after the other allocates
// nothing.
type table struct {
	slots  []uint32 // len is a power of two
	names  []string
	hashes []uint64 // fold hashes of names
}

var tables = sync.Pool{New: func() any {
	return &table{slots: make([]uint32, tableStart),
		names: make([]string, 0, tableStart/2), hashes: make([]uint64, 0, tableStart/2)}
}}

// addName records name among the names of one object: in list (backed by
// an array on the caller's stack) while the object has at most linearNames
// members, then in t, a table borrowed from the pool (nil until then). It
// reports false if an equal name was seen before.
func addName(t *table, list []string, name string) (*table, []string, bool) {
	if t == nil {
		for _, o := range list {
			if foldEqual(o, name) {
				return nil, list, false
			}
		}
		if len(list) < linearNames {
			return nil, append(list, name), true
		}
		t = tables.Get().(*table)
		for _, o := range list {
			t.add(o)
		}
	}
	return t, list, t.add(name)
}

// release returns a borrowed table to the pool.
func (t *table) release() {
	if t != nil && len(t.slots) <= tableKeep {
		t.slots = t.slots[:tableStart]
		clear(t.slots)
		clear(t.names)
		t.names, t.hashes = t.names[:0], t.hashes[:0]
		tables.Put(t)
	}
}

// add inserts name and reports false if an equal name is in the table.
func (t *table) add(name string) bool {
	if 2*(len(t.names)+1) > len(t.slots) {
		t.grow()
	}
	h := foldHash(name)
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for ; t.slots[i] != 0; i = (i + 1) & mask {
		if j := t.slots[i] - 1; t.hashes[j] == h && strings.EqualFold(t.names[j], name) {
			return false
		}
	}
	t.names = append(t.names, name)
	t.hashes = append(t.hashes, h)
	t.slots[i] = uint32(len(t.names))
	return true
}

// grow makes the table four times larger.
func (t *table) grow() {
	n := 4 * len(t.slots)
	if cap(t.slots) >= n {
		t.slots = t.slots[:n]
		clear(t.slots)
	} else {
		t.slots = make([]uint32, n)
	}
	mask := uint64(n - 1)
	for j, h := range t.hashes {
		i := h & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = uint32(j + 1)
	}
}

// foldEqual is strings.EqualFold with a cheap early exit: a first or last
// byte that is ASCII is a whole rune, and two ASCII runes that fold together
// differ at most in bit 0x20.
func foldEqual(a, b string) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	if x, y := a[0], b[0]; x < utf8.RuneSelf && y < utf8.RuneSelf && x|0x20 != y|0x20 {
		return false
	}
	if x, y := a[len(a)-1], b[len(b)-1]; x < utf8.RuneSelf && y < utf8.RuneSelf && x|0x20 != y|0x20 {
		return false
	}
	return strings.EqualFold(a, b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldHash is a keyed hash of name's case-folded form, never 0. Two names
// that strings.EqualFold finds equal have the same hash: an ASCII name is
// hashed as it is, a name with other runes after mapping each rune to its
// foldRune, and hash ignores bit 0x20 of every byte, which is all that
// tells an ASCII upper-case letter from its lower case.
func foldHash(name string) uint64 {
	if isASCII(name) {
		return hash(name) | 1
	}
	var buf [64]byte
	b := buf[:0]
	for _, r := range name {
		b = utf8.AppendRune(b, foldRune(r))
	}
	return hash(b) | 1
}

// The key of hash: random per process, so nobody can choose names that
// collide.
var key = func() (k [3]uint64) {
	s := maphash.MakeSeed()
	for i := range k {
		k[i] = maphash.Comparable(s, i) | 1
	}
	return k
}()

// fold20 sets bit 0x20 of every byte of a word.
const fold20 = 0x2020202020202020

// hash is a keyed hash of s with bit 0x20 of every byte set, in the style of
// the runtime's wyhash (which hashes map keys where AES instructions are
// missing): the input is read eight bytes at a time and folded with
// 64×64→128-bit multiplications by the key. Names are short, so this is
// cheaper than hash/maphash's call into the runtime, and it takes a name as
// a string and a folded copy as bytes alike.
func hash[T string | []byte](s T) uint64 {
	n := len(s)
	a, b := key[0], key[1]^uint64(n)
	i := 0
	for ; n-i > 16; i += 16 {
		a = mix(a^load8(s, i)|fold20, b^load8(s, i+8)|fold20)
		b ^= a
	}
	switch rest := n - i; {
	case rest > 8:
		a ^= load8(s, i) | fold20
		b ^= load8(s, n-8) | fold20
	case rest >= 4:
		a ^= uint64(load4(s, i)) | fold20
		b ^= uint64(load4(s, n-4)) | fold20
	case rest > 0:
		a ^= (uint64(s[i])<<16 | uint64(s[i+rest>>1])<<8 | uint64(s[n-1])) | fold20
	}
	return mix(key[2]^uint64(n), mix(a, b))
}

// foldRune maps r to one representative of its simple case-folding orbit
// (the runes strings.EqualFold treats as equal to it): the smallest rune of
// the orbit, in lower case when that is an ASCII letter ("ſ" and "S" give
// "s", the Kelvin sign gives "k"), so that a folded name hashes like an
// ASCII spelling of it.
func foldRune(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	if 'A' <= m && m <= 'Z' {
		m += 'a' - 'A'
	}
	return m
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func load8[T string | []byte](s T, i int) uint64 {
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

func load4[T string | []byte](s T, i int) uint32 {
	return uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
}
