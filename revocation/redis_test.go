package revocation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
)

const testIss = "https://kc.example.com/realms/tokenwarden"

// TestRedisPropagation runs on the project's shared Redis (make services),
// under a key prefix of its own.
func TestRedisPropagation(t *testing.T) {
	opts, err := redis.ParseURL(testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("twtest-%d", time.Now().UnixNano())
	t.Cleanup(func() { // leave the shared server as it was
		c := redis.NewClient(opts)
		defer c.Close()
		ctx := context.Background()
		keys, _ := c.Keys(ctx, "{"+prefix+"}:*").Result()
		for _, k := range keys {
			c.Del(ctx, k)
		}
	})
	testPropagation(t, func() RedisConfig {
		c := redis.NewClient(opts)
		t.Cleanup(func() { c.Close() })
		return RedisConfig{Client: c, KeyPrefix: prefix}
	}, 10_000)
}

// testPropagation revokes n jtis on store A and measures when store B,
// with its own client, has applied each one.
func testPropagation(t *testing.T, cfg func() RedisConfig, n int) {
	ctx := context.Background()
	a := newRedisStore(t, cfg(), nil)
	seen := make(chan string, 1)
	var want sync.Mutex
	wantID := ""
	b := newRedisStore(t, cfg(), func(k kind, iss, id string) {
		want.Lock()
		defer want.Unlock()
		if k == kindToken && id == wantID {
			seen <- id
		}
	})
	lat := make([]time.Duration, 0, n)
	for i := range n {
		id := fmt.Sprintf("jti-%d", i)
		want.Lock()
		wantID = id
		want.Unlock()
		start := time.Now()
		if err := a.RevokeToken(ctx, testIss, id, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-seen:
		case <-time.After(10 * time.Second):
			t.Fatalf("revocation %d not propagated", i)
		}
		lat = append(lat, time.Since(start))
		if got := b.Check(Token{Issuer: testIss, ID: id}); got != TokenMatch {
			t.Fatalf("replica B: Check = %v, want %v", got, TokenMatch)
		}
		if got := a.Check(Token{Issuer: testIss, ID: id}); got != TokenMatch {
			t.Fatalf("replica A (writer): Check = %v, want %v", got, TokenMatch)
		}
	}
	slices.Sort(lat)
	t.Logf("propagation over %d revocations (write start → applied on the other replica): p50=%v p99=%v max=%v",
		n, lat[n/2], lat[n*99/100], lat[n-1])

	// Every kind propagates.
	now := time.Now()
	steps := []struct {
		do   func(s *Redis) error
		tok  Token
		want Match
	}{
		{func(s *Redis) error { return s.RevokeSession(ctx, testIss, "sid-1", now) },
			Token{Issuer: testIss, SessionID: "sid-1", IssuedAt: now.Add(-time.Second)}, SessionMatch},
		{func(s *Redis) error { return s.RevokeSubject(ctx, testIss, "alice", now) },
			Token{Issuer: testIss, Subject: "alice", IssuedAt: now.Add(-time.Second)}, SubjectMatch},
		{func(s *Redis) error { return s.SetClientNotBefore(ctx, testIss, "mobile", now) },
			Token{Issuer: testIss, ClientID: "mobile", IssuedAt: now.Add(-time.Second)}, ClientMatch},
		{func(s *Redis) error { return s.SetIssuerNotBefore(ctx, testIss, now) },
			Token{Issuer: testIss, IssuedAt: now.Add(-time.Second)}, IssuerMatch},
	}
	for _, st := range steps {
		if err := st.do(a); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return b.Check(st.tok) == st.want }, "replica B sees %v", st.want)
	}
}

// waitFor polls cond until it holds (an event wait, not a timing assertion).
func waitFor(t testing.TB, cond func() bool, format string, args ...any) {
	t.Helper()
	waitWithin(t, 30*time.Second, cond, format, args...)
}

// waitWithin is waitFor that gives up only after limit.
func waitWithin(t testing.TB, limit time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: "+format, args...)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRedisSeenOnce(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	a := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	b := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	exp := time.Now().Add(2 * time.Minute)
	first, err := a.SeenOnce(ctx, testIss, "logout-1", exp)
	if err != nil || !first {
		t.Fatalf("first SeenOnce = %v, %v; want true, nil", first, err)
	}
	first, err = b.SeenOnce(ctx, testIss, "logout-1", exp)
	if err != nil || first {
		t.Fatalf("replay on the other replica = %v, %v; want false, nil", first, err)
	}
	first, err = b.SeenOnce(ctx, testIss+"/other", "logout-1", exp)
	if err != nil || !first {
		t.Fatalf("same jti, other issuer = %v, %v; want true, nil", first, err)
	}
	srv.kill()
	first, err = a.SeenOnce(ctx, testIss, "logout-2", exp)
	if first || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("SeenOnce with redis down = %v, %v; want false, ErrUnavailable", first, err)
	}
	if err := a.RevokeToken(ctx, testIss, "j", exp); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("RevokeToken with redis down = %v; want ErrUnavailable", err)
	}
	if a.Check(Token{Issuer: testIss, ID: "j"}) != NoMatch {
		t.Fatal("a failed write was kept locally")
	}
	waitFor(t, a.Degraded, "degraded after redis went away")
}
