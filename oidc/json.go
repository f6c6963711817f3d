package oidc

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A small strict JSON reader for JOSE headers, JWT claims and Keycloak admin
// messages. Compared with encoding/json it
//   - matches member names case-sensitively and rejects duplicate names
//     (also names equal under Unicode case folding, which encoding/json
//     would merge) in every object it decodes into typed fields,
//   - rejects invalid UTF-8, unpaired surrogate escapes and control bytes,
//   - bounds nesting depth,
//   - does not allocate for strings without escapes: values are substrings
//     of the input string.
// Unknown members are skipped after full syntax validation (a number must
// also fit a float64, as encoding/json requires).

const maxJSONDepth = 32

var errJSON = errors.New("invalid json")

type jsonReader struct {
	s     string
	i     int
	depth int
}

func (d *jsonReader) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonReader) peek() byte {
	d.ws()
	if d.i >= len(d.s) {
		return 0
	}
	return d.s[d.i]
}

// end reports whether only whitespace remains.
func (d *jsonReader) end() error {
	d.ws()
	if d.i != len(d.s) {
		return errJSON
	}
	return nil
}

func (d *jsonReader) objStart() error {
	if d.peek() != '{' {
		return errJSON
	}
	d.i++
	d.depth++
	if d.depth > maxJSONDepth {
		return errJSON
	}
	return nil
}

// objNext advances to the next member of the current object and returns its
// name, positioned at the value. more is false at the closing brace.
func (d *jsonReader) objNext(first *bool) (name string, more bool, err error) {
	c := d.peek()
	if c == '}' {
		d.i++
		d.depth--
		return "", false, nil
	}
	if !*first {
		if c != ',' {
			return "", false, errJSON
		}
		d.i++
		d.ws()
	}
	*first = false
	name, err = d.str()
	if err != nil {
		return "", false, err
	}
	if d.peek() != ':' {
		return "", false, errJSON
	}
	d.i++
	d.ws()
	return name, true, nil
}

func (d *jsonReader) arrStart() error {
	if d.peek() != '[' {
		return errJSON
	}
	d.i++
	d.depth++
	if d.depth > maxJSONDepth {
		return errJSON
	}
	return nil
}

// arrNext advances to the next element; more is false at the closing bracket.
func (d *jsonReader) arrNext(first *bool) (more bool, err error) {
	c := d.peek()
	if c == ']' {
		d.i++
		d.depth--
		return false, nil
	}
	if !*first {
		if c != ',' {
			return false, errJSON
		}
		d.i++
		d.ws()
	}
	*first = false
	return true, nil
}

// null consumes a JSON null if one is next.
func (d *jsonReader) null() bool {
	d.ws()
	if strings.HasPrefix(d.s[d.i:], "null") {
		d.i += 4
		return true
	}
	return false
}

// str reads a string. Strings without escapes are returned as substrings of
// the input (no allocation).
func (d *jsonReader) str() (string, error) {
	d.ws()
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return "", errJSON
	}
	start := d.i + 1
	s := d.s
	i := start
	for i < len(s) {
		c := s[i]
		if c == '"' {
			d.i = i + 1
			return s[start:i], nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		i++
	}
	// Escapes, control bytes, non-ASCII or the end of input.
	d.i = i
	for d.i < len(s) {
		c := s[d.i]
		switch {
		case c == '"':
			v := s[start:d.i]
			d.i++
			return v, nil
		case c == '\\':
			return d.strEscaped(start)
		case c < 0x20:
			return "", errJSON
		case c < utf8.RuneSelf:
			d.i++
		default:
			r, size := utf8.DecodeRuneInString(s[d.i:])
			if r == utf8.RuneError && size == 1 {
				return "", errJSON
			}
			d.i += size
		}
	}
	return "", errJSON
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

func (d *jsonReader) hex4() (rune, bool) {
	if d.i+4 > len(d.s) {
		return 0, false
	}
	var r rune
	for k := 0; k < 4; k++ {
		v := hexVal(d.s[d.i+k])
		if v < 0 {
			return 0, false
		}
		r = r<<4 | v
	}
	d.i += 4
	return r, true
}

func (d *jsonReader) strEscaped(start int) (string, error) {
	buf := make([]byte, 0, d.i-start+16)
	buf = append(buf, d.s[start:d.i]...)
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			return string(buf), nil
		case c == '\\':
			d.i++
			if d.i >= len(d.s) {
				return "", errJSON
			}
			e := d.s[d.i]
			d.i++
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
				r, ok := d.hex4()
				if !ok {
					return "", errJSON
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xdc00 || !strings.HasPrefix(d.s[d.i:], `\u`) {
						return "", errJSON // unpaired surrogate
					}
					d.i += 2
					r2, ok := d.hex4()
					if !ok {
						return "", errJSON
					}
					r = utf16.DecodeRune(r, r2)
					if r == utf8.RuneError {
						return "", errJSON
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", errJSON
			}
		case c < 0x20:
			return "", errJSON
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.i++
		default:
			r, size := utf8.DecodeRuneInString(d.s[d.i:])
			if r == utf8.RuneError && size == 1 {
				return "", errJSON
			}
			buf = append(buf, d.s[d.i:d.i+size]...)
			d.i += size
		}
	}
	return "", errJSON
}

// number validates a JSON number and returns its text.
func (d *jsonReader) number() (string, error) {
	d.ws()
	start := d.i
	if d.i < len(d.s) && d.s[d.i] == '-' {
		d.i++
	}
	if d.i >= len(d.s) {
		return "", errJSON
	}
	switch c := d.s[d.i]; {
	case c == '0':
		d.i++
	case c >= '1' && c <= '9':
		d.digits()
	default:
		return "", errJSON
	}
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			return "", errJSON
		}
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return "", errJSON
		}
	}
	return d.s[start:d.i], nil
}

func (d *jsonReader) digits() int {
	n := 0
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}

// boolean reads true or false.
func (d *jsonReader) boolean() (bool, error) {
	d.ws()
	switch {
	case strings.HasPrefix(d.s[d.i:], "true"):
		d.i += 4
		return true, nil
	case strings.HasPrefix(d.s[d.i:], "false"):
		d.i += 5
		return false, nil
	}
	return false, errJSON
}

// skip validates and skips any value.
func (d *jsonReader) skip() error {
	switch d.peek() {
	case '{':
		if err := d.objStart(); err != nil {
			return err
		}
		var nb [16]string
		names := nameSet{list: nb[:0]}
		first := true
		for {
			name, more, err := d.objNext(&first)
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
			var ok bool
			if names, ok = names.add(name); !ok {
				return errJSON
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case '[':
		if err := d.arrStart(); err != nil {
			return err
		}
		first := true
		for {
			more, err := d.arrNext(&first)
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case '"':
		_, err := d.str()
		return err
	case 't', 'f':
		_, err := d.boolean()
		return err
	case 'n':
		if d.null() {
			return nil
		}
		return errJSON
	default:
		n, err := d.number()
		if err != nil {
			return err
		}
		// encoding/json cannot decode a number beyond float64's range into
		// an interface value: refuse it, so that Claims.Decode never fails
		// on a payload this reader accepted.
		if _, err := strconv.ParseFloat(n, 64); err != nil {
			return errJSON
		}
		return nil
	}
}

// strArray reads an array of strings into a slice of exact length.
func (d *jsonReader) strArray() ([]string, error) {
	if err := d.arrStart(); err != nil {
		return nil, err
	}
	var stack [32]string
	out := stack[:0]
	first := true
	for {
		more, err := d.arrNext(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		v, err := d.str()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return []string{}, nil
	}
	res := make([]string, len(out))
	copy(res, out)
	return res, nil
}

// nameSet detects duplicate member names, including names that
// encoding/json would treat as equal (Unicode simple case folding, e.g.
// "aud", "AUD", "\u0061ud", and "ſub"/"sub"), so a later encoding/json pass
// over the same bytes cannot see another value. Callers back list with a
// stack array. While all names are ASCII, only names of equal length can
// fold to each other, which keeps the common case cheap.
type nameSet struct {
	list     []string
	nonASCII bool
}

// add records name and reports false if an equal name was seen before.
// It works on values (no pointer stores) so the stack array stays on the
// stack.
func (n nameSet) add(name string) (nameSet, bool) {
	ascii := isASCII(name)
	if ascii && !n.nonASCII {
		for _, o := range n.list {
			// ASCII letters that fold together agree in every bit but
			// 0x20, so the first and last bytes filter cheaply.
			if len(o) == len(name) && (len(o) == 0 ||
				(o[0]|0x20 == name[0]|0x20 && o[len(o)-1]|0x20 == name[len(name)-1]|0x20)) &&
				strings.EqualFold(o, name) {
				return n, false
			}
		}
	} else {
		for _, o := range n.list {
			if strings.EqualFold(o, name) {
				return n, false
			}
		}
		n.nonASCII = true
	}
	n.list = append(n.list, name)
	return n, true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
