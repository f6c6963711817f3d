package introspect

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/oidc"
)

type staticIntrospector struct{ calls int }

func (s *staticIntrospector) Introspect(context.Context, string, string) (*Result, error) {
	s.calls++
	return nil, ErrInactive
}

// TestCacheFullTokenComparison plants entries for another token under the
// key of the asked one (a hash collision): they must not be served.
func TestCacheFullTokenComparison(t *testing.T) {
	up := &staticIntrospector{}
	c, err := NewCache(up, CacheConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key := c.key("asked")
	far := time.Now().Add(time.Hour)
	c.pos.Add(key, &entry{token: "asked-prefix-or-other", res: &Result{Claims: &oidc.Claims{Expiry: far}}, expires: far})
	c.neg.Add(key, &entry{token: "ask", err: ErrInactive, expires: far})
	if _, err := c.Introspect(context.Background(), "asked", ""); err != ErrInactive || up.calls != 1 {
		t.Fatalf("got %v after %d calls; a colliding entry was served", err, up.calls)
	}
}

// TestCacheWindowCollision: distinct long tokens that share the hashed
// window get the same key but are never served for one another.
func TestCacheWindowCollision(t *testing.T) {
	up := &countingIntrospector{}
	c, err := NewCache(up, CacheConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	head, tail := strings.Repeat("h", hashHead), strings.Repeat("t", hashTail)
	a, b := head+"good-AAAA"+tail, head+"badd-BBBB"+tail
	if c.key(a) != c.key(b) {
		t.Fatal("test tokens do not share the window")
	}
	if c.key(a) == c.key(a+"x") || c.key(a) == c.key(head+"good-AAAAA"+tail) {
		t.Fatal("length or tail not hashed")
	}
	ctx := context.Background()
	for range 2 {
		if _, err := c.Introspect(ctx, a, ""); err != nil {
			t.Fatalf("a: %v", err)
		}
		if _, err := c.Introspect(ctx, b, ""); err != ErrInactive {
			t.Fatalf("b: %v", err)
		}
	}
	// a stays cached (positive); b's negative entry shares the slot but is
	// in the other LRU.
	if up.calls != 2 {
		t.Fatalf("%d upstream calls, want 2", up.calls)
	}
}

// countingIntrospector answers active for tokens containing "good".
type countingIntrospector struct{ calls int }

func (s *countingIntrospector) Introspect(_ context.Context, token, _ string) (*Result, error) {
	s.calls++
	if strings.Contains(token, "good") {
		return &Result{Claims: &oidc.Claims{Expiry: time.Now().Add(time.Hour)}}, nil
	}
	return nil, ErrInactive
}
