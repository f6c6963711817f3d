package introspect

import (
	"context"
	"hash/maphash"
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
	key := maphash.String(c.seed, "asked")
	far := time.Now().Add(time.Hour)
	c.pos.Add(key, &entry{token: "asked-prefix-or-other", res: &Result{Claims: &oidc.Claims{Expiry: far}}, expires: far})
	c.neg.Add(key, &entry{token: "ask", err: ErrInactive, expires: far})
	if _, err := c.Introspect(context.Background(), "asked", ""); err != ErrInactive || up.calls != 1 {
		t.Fatalf("got %v after %d calls; a colliding entry was served", err, up.calls)
	}
}
