package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// readAll reads one value with Object, Array and Skip, as a decoder would.
func readAll(s string) error {
	r := NewReader(s)
	if err := r.Skip(); err != nil {
		return err
	}
	return r.End()
}

func TestSyntax(t *testing.T) {
	tests := []struct {
		name, json string
		ok         bool
	}{
		{"empty object", `{}`, true},
		{"whitespace", " \t\r\n{ \"a\" : [ 1 , -0.5e+3 , true , false , null , \"x\" ] } \n", true},
		{"escapes", `{"a":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}`, true},
		{"depth at limit", strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), true},
		{"depth over limit", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), false},
		{"empty", ``, false},
		{"trailing comma", `{"a":1,}`, false},
		{"leading comma", `[,1]`, false},
		{"missing colon", `{"a" 1}`, false},
		{"single quotes", `{'a':1}`, false},
		{"two values", `{}{}`, false},
		{"leading zero", `01`, false},
		{"bare minus", `-`, false},
		{"fraction without digits", `1.`, false},
		{"beyond float64", `1e400`, false},
		{"NaN", `NaN`, false},
		{"control byte", "\"a\x01b\"", false},
		{"invalid utf-8", "\"\xc3\x28\"", false},
		{"overlong utf-8", "\"\xc0\xaf\"", false},
		{"lone low surrogate", `"\udc00"`, false},
		{"lone high surrogate", `"\ud800x"`, false},
		{"bad escape", `"\x41"`, false},
		{"short unicode escape", `"\u00e"`, false},
		{"unterminated", `"abc`, false},
		{"bad literal", `tru`, false},
		{"name not a string", `{1:2}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := readAll(tc.json); (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok = %v", err, tc.ok)
			}
		})
	}
}

// names returns n distinct member names of the shape that defeated the old
// pairwise filter: equal length, equal first and last letters.
func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("a%06da", i)
	}
	return out
}

func object(names []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(n))
		b.WriteString(":0")
	}
	b.WriteByte('}')
	return b.String()
}

// TestDuplicates: a repeated name is refused wherever it stands, in the
// compared-one-by-one range and in the hashed range, also when the
// repetition differs in letter case, hides behind an escape, or differs
// under Unicode simple case folding.
func TestDuplicates(t *testing.T) {
	variants := []struct{ first, again string }{
		{`"sub"`, `"sub"`},
		{`"sub"`, `"SUB"`},
		{`"sub"`, `"\u0073ub"`},
		{`"sub"`, `"\u017fub"`}, // ſ folds to s
		{`"kid"`, `"\u212aid"`}, // Kelvin sign folds to k
		{`"aud"`, `"AuD"`},
		{`"ǆ"`, `"ǅ"`}, // a three-rune orbit, none ASCII
		{`"été"`, `"ÉTÉ"`},
		{`""`, `""`},
	}
	for _, before := range []int{0, 3, linearNames - 1, linearNames, 40, 300} {
		for _, between := range []int{0, 5, 100} {
			for _, v := range variants {
				var b strings.Builder
				b.WriteByte('{')
				for _, n := range names(before) {
					fmt.Fprintf(&b, "%q:1,", n)
				}
				b.WriteString(v.first + ":1,")
				for _, n := range names(before + between)[before:] {
					fmt.Fprintf(&b, "%q:1,", n)
				}
				b.WriteString(v.again + ":2}")
				r := NewReader(b.String())
				err := r.Object(func(string) error { return r.Skip() })
				if !errors.Is(err, ErrDuplicate) {
					t.Errorf("%s then %s after %d+%d names: err = %v", v.first, v.again, before, between, err)
				}
				// Nested, through Skip.
				if err := readAll(`{"x":[` + b.String() + `]}`); !errors.Is(err, ErrDuplicate) {
					t.Errorf("nested %s then %s: err = %v", v.first, v.again, err)
				}
			}
		}
	}
}

// TestDistinctNamesAccepted: names that differ, also only in a letter that
// has no case or in a rune outside every orbit, are all accepted, in both
// ranges.
func TestDistinctNamesAccepted(t *testing.T) {
	for _, n := range []int{1, linearNames, linearNames + 1, 64, 1000} {
		ns := names(n)
		ns = append(ns, "a", "b", "ss", "ß", "s", "k", "ǆx", "_", "")
		r := NewReader(object(ns))
		seen := 0
		err := r.Object(func(string) error { seen++; return r.Skip() })
		if err != nil || seen != len(ns) {
			t.Fatalf("%d names: err = %v, saw %d", len(ns), err, seen)
		}
	}
}

// TestFoldHashAgreesWithEqualFold: two names strings.EqualFold finds equal
// always hash alike (the table never misses a duplicate), checked on every
// rune with a case-folding orbit and on random mixes.
func TestFoldHashAgreesWithEqualFold(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		f := unicode.SimpleFold(r)
		if f == r {
			continue
		}
		a, b := "x"+string(r)+"y", "X"+string(f)+"Y"
		if !strings.EqualFold(a, b) || foldHash(a) != foldHash(b) {
			t.Fatalf("%U and %U: EqualFold %v, hashes differ", r, f, strings.EqualFold(a, b))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pool := []rune("aAbBkKsSſKµΜμσςΣǅǄǆ1_-é")
	for range 20000 {
		var a, b []rune
		for range rng.IntN(6) {
			c := pool[rng.IntN(len(pool))]
			a = append(a, c)
			if rng.IntN(2) == 0 {
				c = unicode.SimpleFold(c)
			}
			b = append(b, c)
		}
		if strings.EqualFold(string(a), string(b)) && foldHash(string(a)) != foldHash(string(b)) {
			t.Fatalf("%q and %q fold equal but hash differently", string(a), string(b))
		}
	}
	long := strings.Repeat("ſ", 200)
	if foldHash(long) != foldHash(strings.Repeat("S", 200)) {
		t.Fatal("long names: hashes differ")
	}
}

// TestTablesReleased: objects with many members borrow a table and return
// it; reading many of them one after the other allocates nothing in steady
// state.
func TestTablesReleased(t *testing.T) {
	doc := `{"a":` + object(names(50)) + `,"b":` + object(names(20)) + `}`
	if err := readAll(doc); err != nil {
		t.Fatal(err)
	}
	if raceEnabled {
		t.Skip("sync.Pool drops objects under the race detector")
	}
	if n := testing.AllocsPerRun(100, func() {
		if readAll(doc) != nil {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Fatalf("%v allocations per read", n)
	}
}

func TestStrings(t *testing.T) {
	r := NewReader(`["a","b\n"]`)
	got, err := r.Strings()
	if err != nil || len(got) != 2 || cap(got) != 2 || got[1] != "b\n" {
		t.Fatalf("got %q (cap %d), %v", got, cap(got), err)
	}
	r = NewReader(`[]`)
	if got, err := r.Strings(); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("empty array: %#v %v", got, err)
	}
	r = NewReader(`["a",1]`)
	if _, err := r.Strings(); err == nil {
		t.Fatal("number accepted in a string array")
	}
}

func TestRawAndUint(t *testing.T) {
	r := NewReader(`{"jwk": {"kty" : "EC"} , "n": 12345678901, "m": 123456789012}`)
	var raw string
	var n int64
	var errM error
	err := r.Object(func(name string) error {
		var err error
		switch name {
		case "jwk":
			raw, err = r.Raw()
		case "n":
			n, err = r.Uint()
		default:
			_, errM = r.Uint()
		}
		return err
	})
	if err != nil || raw != `{"kty" : "EC"}` || n != 12345678901 {
		t.Fatalf("raw %q n %d err %v", raw, n, err)
	}
	if errM == nil {
		t.Fatal("Uint accepted 12 digits")
	}
}

// BenchmarkObjectMembers reads objects of n members named so that the old
// pairwise check was quadratic; the time per member must stay flat.
func BenchmarkObjectMembers(b *testing.B) {
	for _, n := range []int{8, 64, 677, 4096} {
		doc := object(names(n))
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if err := readAll(doc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/member")
		})
	}
}

// FuzzReader: whatever the reader accepts, encoding/json accepts too, no
// object in it has two names that strings.EqualFold finds equal, and the
// structural skip ends the value where the strict one does.
func FuzzReader(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":null}],"A":2}`, `{"ſ":1,"s":2}`, object(names(20)),
		`{"x":"\ud83d\ude00","y":-1.5e3}`, `[{"a":1,"a":2}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lax := NewReader(s)
		laxErr := lax.SkipStructure() // must not panic on anything
		if readAll(s) != nil {
			return
		}
		strict := NewReader(s)
		_ = strict.Skip()
		if laxErr != nil || lax.i != strict.i {
			t.Fatalf("%q: the structural skip ends at %d (%v), the strict one at %d", s, lax.i, laxErr, strict.i)
		}
		if !json.Valid([]byte(s)) {
			t.Fatalf("accepted invalid json %q", s)
		}
		if dup := foldDuplicate(t, json.NewDecoder(strings.NewReader(s))); dup != "" {
			t.Fatalf("accepted a repeated name %q in %q", dup, s)
		}
	})
}

// foldDuplicate walks one value with encoding/json and returns a name that
// repeats, under strings.EqualFold, within one object, or "".
func foldDuplicate(t *testing.T, dec *json.Decoder) string {
	tok, err := dec.Token()
	if err != nil {
		t.Fatal(err)
	}
	switch tok {
	case json.Delim('{'):
		var seen []string
		for dec.More() {
			nt, _ := dec.Token()
			name := nt.(string)
			for _, o := range seen {
				if strings.EqualFold(o, name) {
					return name
				}
			}
			seen = append(seen, name)
			if d := foldDuplicate(t, dec); d != "" {
				return d
			}
		}
		dec.Token()
	case json.Delim('['):
		for dec.More() {
			if d := foldDuplicate(t, dec); d != "" {
				return d
			}
		}
		dec.Token()
	}
	return ""
}

// TestStringBytes: every byte class is noticed at every position of a long
// string, inside and across the eight-byte blocks scanned at once.
func TestStringBytes(t *testing.T) {
	for pos := range 24 {
		for _, tc := range []struct {
			ins  string
			want string // "" when the string must be refused
		}{
			{"\x00", ""}, {"\x1f", ""}, {"\n", ""}, {"\xff", ""}, {"\xc3", ""},
			{`\"`, `"`}, {`\\`, `\`}, {`\u0041`, "A"}, {"é", "é"}, {"\x7f", "\x7f"}, {" ", " "}, {"~", "~"},
		} {
			body := strings.Repeat("a", pos) + tc.ins + strings.Repeat("b", 24-pos)
			r := NewReader(`"` + body + `"`)
			got, err := r.String()
			if tc.want == "" {
				if err == nil {
					t.Fatalf("%q at %d accepted", tc.ins, pos)
				}
				continue
			}
			want := strings.Repeat("a", pos) + tc.want + strings.Repeat("b", 24-pos)
			if err != nil || got != want || r.End() != nil {
				t.Fatalf("%q at %d: %q, %v", tc.ins, pos, got, err)
			}
		}
		// An unterminated string ending in the middle of a block.
		r := NewReader(`"` + strings.Repeat("a", pos))
		if _, err := r.String(); err == nil {
			t.Fatalf("unterminated string of %d bytes accepted", pos)
		}
	}
}

// TestSkipStructure: the structural skip ends each value where the strict
// one does, and refuses what has no structure.
func TestSkipStructure(t *testing.T) {
	for _, v := range []string{`"a\"b\\"`, `"\\\\"`, `{"a":[1,{"b":"]}"}],"c":null}`, `[]`, `{}`, `-1.5e3`, `true`,
		`[[[["x"]]]]`, `"é\u0041"`, `{"a" : [ 1 , 2 ] }`} {
		r := NewReader(v + `,"next"`)
		if err := r.SkipStructure(); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if rest := r.s[r.i:]; rest != `,"next"` {
			t.Fatalf("%s: stopped before %q", v, rest)
		}
	}
	for _, v := range []string{``, `"abc`, `"a\"`, `[1,2`, `}`, `,`, strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)} {
		r := NewReader(v)
		if err := r.SkipStructure(); err == nil {
			t.Fatalf("%q accepted", v)
		}
	}
}

// TestLimit: members and elements at any depth count against a limit.
func TestLimit(t *testing.T) {
	doc := `{"a":[1,2,3],"b":{"c":4}}` // 2 members, 3 elements, 1 member: 6 values
	for limit, ok := range map[int]bool{5: false, 6: true} {
		r := NewReader(doc)
		r.Limit(limit)
		err := r.Skip()
		if ok != (err == nil) || !ok && !errors.Is(err, ErrTooMany) {
			t.Fatalf("limit %d: %v", limit, err)
		}
	}
}
