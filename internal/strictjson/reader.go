// Package strictjson is the JSON reader under tokenwarden's JOSE header,
// JWK, JWT claims, Keycloak admin message and RFC 7662 answer decoders.
//
// Compared with encoding/json it
//   - matches member names case-sensitively and refuses a repeated name in
//     every object, also when the repetition hides behind an escape or
//     differs under Unicode simple case folding ("aud" and "AUD", "sub" and
//     "ſub"), which encoding/json would merge; the check costs linear time
//     in the number of members (see Object);
//   - refuses invalid UTF-8, unpaired surrogate escapes and control bytes;
//   - bounds nesting depth (MaxDepth);
//   - requires a number to fit a float64, as encoding/json does;
//   - does not allocate for strings without escapes: values are substrings
//     of the input.
//
// A decoder walks one value with Object, Array and the scalar readers, and
// skips what it does not need with Skip, which validates it fully.
package strictjson

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of objects and arrays.
const MaxDepth = 32

// ErrSyntax reports input that is not one valid JSON value of the kind asked
// for.
var ErrSyntax = errors.New("invalid json")

// ErrDuplicate reports a member name repeated in one object.
var ErrDuplicate = errors.New("duplicate member name")

// ErrTooMany reports more values than a Limit allows.
var ErrTooMany = errors.New("too many values")

// Reader reads JSON text from a string. The zero value reads "". A Reader is
// a small value meant to live on the caller's stack.
type Reader struct {
	s       string
	i       int
	depth   int
	left    int  // values still allowed, when limited
	limited bool // see Limit
}

// Limit bounds the values read inside objects and arrays, members and
// elements at any depth, to n; reading one more fails with ErrTooMany. A
// decoder of input read before its signature is verified sets it, so that
// refusing a forged token costs at most about what verifying a signature
// does, however the token packs its bytes.
func (r *Reader) Limit(n int) { r.left, r.limited = n, true }

// NewReader returns a Reader over s.
func NewReader(s string) Reader { return Reader{s: s} }

func (r *Reader) ws() {
	for r.i < len(r.s) && space[r.s[r.i]] {
		r.i++
	}
}

// Peek returns the first byte of the next value (after whitespace), or 0 at
// the end of the input.
func (r *Reader) Peek() byte {
	r.ws()
	if r.i >= len(r.s) {
		return 0
	}
	return r.s[r.i]
}

// End returns ErrSyntax unless only whitespace remains.
func (r *Reader) End() error {
	r.ws()
	if r.i != len(r.s) {
		return ErrSyntax
	}
	return nil
}

func (r *Reader) open(c byte) error {
	if r.Peek() != c {
		return ErrSyntax
	}
	r.i++
	r.depth++
	if r.depth > MaxDepth {
		return ErrSyntax
	}
	return nil
}

// next advances past a comma (not before the first element) and reports
// whether another element follows, consuming the closing byte when not.
func (r *Reader) next(end byte, first bool) (bool, error) {
	c := r.Peek()
	if c == end {
		r.i++
		r.depth--
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, ErrSyntax
		}
		r.i++
	}
	if r.limited {
		if r.left--; r.left < 0 {
			return false, ErrTooMany
		}
	}
	return true, nil
}

// Object reads an object. For each member it calls member with the name and
// the reader positioned at the value, which member must consume (read it or
// Skip it). A name equal to an earlier one of the same object, byte for byte
// or under Unicode simple case folding (strings.EqualFold), fails with
// ErrDuplicate before member sees it; the check takes time linear in the
// number of members (names are compared one by one while an object has at
// most a few, through a table of keyed hashes of their case-folded form
// beyond), so a hostile object with thousands of members costs no more per
// member than a small one. An error returned by member is returned as is.
func (r *Reader) Object(member func(name string) error) error {
	return r.object(member, nil)
}

// ObjectDup is Object for decoders that refuse a repeated name themselves
// but must read on: instead of failing, it calls dup with the repeated name
// (then member as for any name) and fails only if dup returns an error.
func (r *Reader) ObjectDup(member func(name string) error, dup func(name string) error) error {
	return r.object(member, dup)
}

func (r *Reader) object(member, dup func(string) error) error {
	if err := r.open('{'); err != nil {
		return err
	}
	var names [linearNames]string
	t, err := r.members(names[:0], member, dup)
	t.release()
	return err
}

// members reads the members of an object whose brace was consumed. The
// names go to list (backed by an array on the caller's stack) while there
// are at most linearNames, then to a table borrowed from the pool, which
// members returns for the caller to release. (The table pointer and the
// list are separate variables so that escape analysis keeps the array on
// the stack.)
func (r *Reader) members(names []string, member, dup func(string) error) (t *table, err error) {
	for first := true; ; first = false {
		more, err := r.next('}', first)
		if err != nil || !more {
			return t, err
		}
		name, err := r.String()
		if err != nil {
			return t, err
		}
		if r.i < len(r.s) && r.s[r.i] == ':' {
			r.i++
		} else if r.Peek() == ':' {
			r.i++
		} else {
			return t, ErrSyntax
		}
		var fresh bool
		if t, names, fresh = addName(t, names, name); !fresh {
			if dup == nil {
				return t, ErrDuplicate
			}
			if err := dup(name); err != nil {
				return t, err
			}
		}
		if err := member(name); err != nil {
			return t, err
		}
	}
}

// Array reads an array, calling elem with the reader positioned at each
// element, which elem must consume.
func (r *Reader) Array(elem func() error) error {
	if err := r.open('['); err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := r.next(']', first)
		if err != nil || !more {
			return err
		}
		if err := elem(); err != nil {
			return err
		}
	}
}

// Null consumes a null if one is next and reports whether it did.
func (r *Reader) Null() bool {
	r.ws()
	if strings.HasPrefix(r.s[r.i:], "null") {
		r.i += 4
		return true
	}
	return false
}

// Bool reads true or false.
func (r *Reader) Bool() (bool, error) {
	r.ws()
	switch {
	case strings.HasPrefix(r.s[r.i:], "true"):
		r.i += 4
		return true, nil
	case strings.HasPrefix(r.s[r.i:], "false"):
		r.i += 5
		return false, nil
	}
	return false, ErrSyntax
}

// String reads a string. A string without escapes is returned as a
// substring of the input, without allocating.
func (r *Reader) String() (string, error) {
	s, i := r.s, r.i
	for i < len(s) && s[i] <= ' ' && space[s[i]] {
		i++
	}
	if i >= len(s) || s[i] != '"' {
		r.i = i
		return "", ErrSyntax
	}
	i++
	start := i
	// Eight bytes at a time while none is a quote, a backslash, a control
	// byte or non-ASCII.
	for ; i+8 <= len(s); i += 8 {
		w := word(s[i : i+8])
		q, bs := w^(ones*'"'), w^(ones*'\\')
		// A byte below 0x20, a zero byte of q or bs (a quote or a
		// backslash), or a high bit: exact for "any such byte".
		if ((w-ones*0x20)&^w|(q-ones)&^q|(bs-ones)&^bs|w)&highs != 0 {
			break
		}
	}
	for i < len(s) && plain[s[i]] {
		i++
	}
	if i < len(s) && s[i] == '"' {
		r.i = i + 1
		return s[start:i], nil
	}
	r.i = i
	return r.slowString(start)
}

// Bytes of a word, for testing eight bytes at a time.
const ones, highs = 0x0101010101010101, 0x8080808080808080

// word reads eight bytes little-endian (one load).
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// space marks JSON whitespace; plain marks the bytes a string holds as
// they are (not the quote, backslash, control bytes or non-ASCII).
var (
	space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}
	plain = func() (t [256]bool) {
		for c := 0x20; c < utf8.RuneSelf; c++ {
			t[c] = c != '"' && c != '\\'
		}
		return t
	}()
)

// slowString finishes a string with escapes, control bytes or non-ASCII
// text, from start (just after the opening quote); r.i is at the first byte
// that is not plain.
func (r *Reader) slowString(start int) (string, error) {
	s := r.s
	for r.i < len(s) {
		c := s[r.i]
		switch {
		case c == '"':
			v := s[start:r.i]
			r.i++
			return v, nil
		case c == '\\':
			return r.escaped(start)
		case c < 0x20:
			return "", ErrSyntax
		case c < utf8.RuneSelf:
			r.i++
		default:
			cr, size := utf8.DecodeRuneInString(s[r.i:])
			if cr == utf8.RuneError && size == 1 {
				return "", ErrSyntax
			}
			r.i += size
		}
	}
	return "", ErrSyntax
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

func (r *Reader) hex4() (rune, bool) {
	if r.i+4 > len(r.s) {
		return 0, false
	}
	var v rune
	for k := 0; k < 4; k++ {
		h := hexVal(r.s[r.i+k])
		if h < 0 {
			return 0, false
		}
		v = v<<4 | h
	}
	r.i += 4
	return v, true
}

// escaped finishes a string that has escapes, from start (just after the
// opening quote); r.i is at the first backslash.
func (r *Reader) escaped(start int) (string, error) {
	buf := make([]byte, 0, r.i-start+16)
	buf = append(buf, r.s[start:r.i]...)
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			r.i++
			return string(buf), nil
		case c == '\\':
			r.i++
			if r.i >= len(r.s) {
				return "", ErrSyntax
			}
			e := r.s[r.i]
			r.i++
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				v, ok := r.hex4()
				if !ok {
					return "", ErrSyntax
				}
				if utf16.IsSurrogate(v) {
					if v >= 0xdc00 || !strings.HasPrefix(r.s[r.i:], `\u`) {
						return "", ErrSyntax // unpaired surrogate
					}
					r.i += 2
					v2, ok := r.hex4()
					if !ok {
						return "", ErrSyntax
					}
					v = utf16.DecodeRune(v, v2)
					if v == utf8.RuneError {
						return "", ErrSyntax
					}
				}
				buf = utf8.AppendRune(buf, v)
			default:
				return "", ErrSyntax
			}
		case c < 0x20:
			return "", ErrSyntax
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			r.i++
		default:
			cr, size := utf8.DecodeRuneInString(r.s[r.i:])
			if cr == utf8.RuneError && size == 1 {
				return "", ErrSyntax
			}
			buf = append(buf, r.s[r.i:r.i+size]...)
			r.i += size
		}
	}
	return "", ErrSyntax
}

// Number validates a number and returns its text.
func (r *Reader) Number() (string, error) {
	n, _, err := r.number()
	return n, err
}

// number validates a number and returns its text and whether it has an
// exponent.
func (r *Reader) number() (text string, exp bool, err error) {
	r.ws()
	s, i := r.s, r.i
	start := i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i >= len(s):
		return "", false, ErrSyntax
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		i = digits(s, i+1)
	default:
		return "", false, ErrSyntax
	}
	if i < len(s) && s[i] == '.' {
		j := digits(s, i+1)
		if j == i+1 {
			return "", false, ErrSyntax
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		exp = true
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(s, i)
		if j == i {
			return "", false, ErrSyntax
		}
		i = j
	}
	r.i = i
	return s[start:i], exp, nil
}

// digits returns the position after the run of digits starting at i.
func digits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// Uint reads an integer in [0, 1e11) written with digits only: no sign,
// fraction or exponent. It is the shape of a NumericDate.
func (r *Reader) Uint() (int64, error) {
	s, err := r.Number()
	if err != nil || len(s) > 11 {
		return 0, ErrSyntax
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, ErrSyntax
		}
		v = v*10 + int64(c-'0')
	}
	return v, nil
}

// Skip validates and consumes any value.
func (r *Reader) Skip() error {
	switch r.Peek() {
	case '{':
		return r.Object(func(string) error { return r.Skip() })
	case '[':
		return r.Array(r.Skip)
	case '"':
		_, err := r.String()
		return err
	case 't', 'f':
		_, err := r.Bool()
		return err
	case 'n':
		if r.Null() {
			return nil
		}
		return ErrSyntax
	default:
		n, exp, err := r.number()
		if err != nil {
			return err
		}
		// encoding/json cannot decode a number beyond float64's range into
		// an interface value: refuse it, so that a later encoding/json pass
		// over input this reader accepted cannot fail. Without an exponent,
		// fewer than 300 characters are always in range.
		if !exp && len(n) < 300 {
			return nil
		}
		if _, err := strconv.ParseFloat(n, 64); err != nil {
			return ErrSyntax
		}
		return nil
	}
}

// SkipStructure consumes any value checking only its structure: strings
// end, brackets balance within MaxDepth; numbers, literals and the content
// of strings are not checked, nor are names. It is for input that is read
// strictly later, after its signature is verified (the issuer a
// MultiVerifier peeks at), and costs a few instructions a byte.
func (r *Reader) SkipStructure() error {
	r.ws()
	if r.i >= len(r.s) {
		return ErrSyntax
	}
	switch r.s[r.i] {
	case '"':
		return r.skipString()
	case '{', '[':
	case '}', ']', ',', ':':
		return ErrSyntax
	default: // a number or a literal
		start := r.i
		for r.i < len(r.s) && !delimiter[r.s[r.i]] {
			r.i++
		}
		if r.i == start {
			return ErrSyntax
		}
		return nil
	}
	// Inside brackets only quotes and brackets matter: everything else is
	// passed over a byte at a time in a tight loop.
	depth := 0
	for {
		for r.i < len(r.s) && !structural[r.s[r.i]] {
			r.i++
		}
		if r.i >= len(r.s) {
			return ErrSyntax
		}
		switch r.s[r.i] {
		case '"':
			if err := r.skipString(); err != nil {
				return err
			}
			continue
		case '{', '[':
			if depth++; depth > MaxDepth {
				return ErrSyntax
			}
		default: // '}' or ']'
			depth--
		}
		r.i++
		if depth == 0 {
			return nil
		}
	}
}

// skipString consumes a string, r.i at its quote, without checking its
// content.
func (r *Reader) skipString() error {
	i := r.i + 1
	for {
		j := strings.IndexByte(r.s[i:], '"')
		if j < 0 {
			return ErrSyntax
		}
		i += j
		// The quote ends the string unless an odd run of backslashes
		// escapes it.
		k := i
		for k > r.i+1 && r.s[k-1] == '\\' {
			k--
		}
		i++
		if (i-1-k)%2 == 0 {
			r.i = i
			return nil
		}
	}
}

// structural marks the bytes SkipStructure looks at inside brackets.
var structural = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true}

// delimiter marks the bytes that end a number or a literal.
var delimiter = [256]bool{',': true, '}': true, ']': true, ':': true, '"': true, '{': true, '[': true,
	' ': true, '\t': true, '\n': true, '\r': true}

// Raw validates and consumes any value and returns its text.
func (r *Reader) Raw() (string, error) {
	r.ws()
	start := r.i
	if err := r.Skip(); err != nil {
		return "", err
	}
	return r.s[start:r.i], nil
}

// Strings reads an array of strings into a slice of exactly its length (an
// empty, non-nil slice for []).
func (r *Reader) Strings() ([]string, error) {
	var stack [32]string
	out, err := r.AppendStrings(stack[:0])
	if err != nil {
		return nil, err
	}
	res := make([]string, len(out))
	copy(res, out)
	return res, nil
}

// AppendStrings reads an array of strings and appends its elements to dst.
func (r *Reader) AppendStrings(dst []string) ([]string, error) {
	err := r.Array(func() error {
		v, err := r.String()
		dst = append(dst, v)
		return err
	})
	return dst, err
}
