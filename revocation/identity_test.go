package revocation

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// FuzzParseIdentity: entry names read back from Redis never panic the
// parser, and every encoded identity decodes to what was encoded.
func FuzzParseIdentity(f *testing.F) {
	f.Add("145:https://kc.example.com/realms/tokenwarden" + "onrtac:1f0e")
	f.Add("40:")
	f.Add("99999999999999999999:x")
	f.Add("1-1:x")
	f.Add(identity(kindClient, "iss:with:colons", "mobile"))
	f.Fuzz(func(t *testing.T, s string) {
		k, iss, id, ok := parseIdentity(s)
		if ok && identity(k, iss, id) != s {
			t.Fatalf("parse(%q) = %d %q %q, re-encodes as %q", s, k, iss, id, identity(k, iss, id))
		}
		if len(s) > 0 {
			kk := kind(1 + s[0]%5)
			k2, iss2, id2, ok2 := parseIdentity(identity(kk, s, s[:len(s)/2]))
			if !ok2 || k2 != kk || iss2 != s || id2 != s[:len(s)/2] {
				t.Fatalf("round trip of (%d, %q, %q) failed", kk, s, s[:len(s)/2])
			}
		}
	})
}

func TestIdentityUnambiguous(t *testing.T) {
	// Without the length prefix these two would encode the same.
	a := identity(kindToken, "https://a/b", "c")
	b := identity(kindToken, "https://a/", "bc")
	if a == b {
		t.Fatalf("identities collide: %q", a)
	}
}

func TestRedisCloseStopsGoroutines(t *testing.T) {
	srv := startRedis(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer c.Close()
	s, err := NewRedis(RedisConfig{Client: c, BlockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := s.RevokeToken(ctx, testIss, "j", time.Time{}); err == nil {
		t.Fatal("RevokeToken after Close succeeded")
	}
}

// FuzzApplyMessage: a stream entry from Redis, however malformed, never
// panics the follower, and a well-formed one lands in the mirror.
func FuzzApplyMessage(f *testing.F) {
	now := time.Now().UnixMilli()
	f.Add("1", testIss, "jti-1", "0", "9999999999999")
	f.Add("2", testIss, "sid-1", "1763900000000", "9999999999999")
	f.Add("0", "", "", "0", "9999999999999")
	f.Add("9", "x", "y", "-1", "-1")
	f.Add("1", "", "", "", "")
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer c.Close()
	f.Fuzz(func(t *testing.T, k, iss, id, v, u string) {
		r, err := newRedis(RedisConfig{Client: c})
		if err != nil {
			t.Fatal(err)
		}
		r.applyMessage(map[string]any{"s": "1", "k": k, "i": iss, "d": id, "v": v, "u": u})
		_, verr := strconv.ParseInt(v, 10, 64)
		if k == "1" && u == "9999999999999" && verr == nil && validID(iss, id) && now < 9999999999999 {
			if r.Check(Token{Issuer: iss, ID: id}) != TokenMatch {
				t.Fatalf("well-formed token entry (%q, %q) not applied", iss, id)
			}
		}
	})
}
