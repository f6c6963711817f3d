package revocation

// Regression tests for the ways a Redis deny-list could lose an
// acknowledged revocation without anyone noticing: clocks, eviction,
// trimming, resets, limits, failover. Each runs against real redis-server
// processes of its own.

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// revoked reports whether s refuses the jti id of testIss.
func revoked(s Store, id string) bool { return s.Check(Token{Issuer: testIss, ID: id}).Revoked() }

// startLoaded starts a Redis store and waits until its first load is done,
// healthy or not.
func startLoaded(tb testing.TB, cfg RedisConfig) *Redis {
	tb.Helper()
	r, err := NewRedis(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	waitFor(tb, func() bool {
		r.linkMu.Lock()
		defer r.linkMu.Unlock()
		return !r.linkBad
	}, "first load")
	return r
}

// reasonHas waits until s reports degraded with a reason containing want.
func reasonHas(tb testing.TB, s *Redis, want string) {
	tb.Helper()
	waitFor(tb, func() bool { h := s.Health(); return h.Degraded && strings.Contains(h.Reason, want) },
		"degraded with %q", want)
}

func pexpireTime(t *testing.T, c *redis.Client, k kind, id string) int64 {
	t.Helper()
	ms, err := c.Do(context.Background(), "PEXPIRETIME", "{tw}:e:"+identity(k, testIss, id)).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// Finding 1: the writer's clock decided expiry and index cleanup. Redis's
// clock decides now, and entries expire at an absolute time.
func TestRedisWriterClockSkew(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	c := newClient(t, srv.addr())
	a := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	exp := time.Now().Add(2 * time.Minute)
	for i := range 100 {
		if err := a.RevokeToken(ctx, testIss, "valid-"+strconv.Itoa(i), exp); err != nil {
			t.Fatal(err)
		}
	}
	// A replica whose clock runs 5 minutes ahead writes: its idea of "now"
	// must neither clean live entries out of the index nor drop its own.
	ahead := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr()),
		Config: Config{Now: func() time.Time { return time.Now().Add(5 * time.Minute) }}}, nil)
	if err := ahead.RevokeToken(ctx, testIss, "skewed-10m", time.Now().Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := ahead.RevokeToken(ctx, testIss, "skewed-2m", exp); err != nil {
		t.Fatal(err)
	}
	if n := c.ZCard(ctx, "{tw}:idx").Val(); n != 102 {
		t.Errorf("index holds %d entries after the skewed writes, want 102", n)
	}
	fresh := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	missing := 0
	for i := range 100 {
		if !revoked(fresh, "valid-"+strconv.Itoa(i)) {
			missing++
		}
	}
	if missing > 0 || !revoked(fresh, "skewed-10m") || !revoked(fresh, "skewed-2m") {
		t.Fatalf("a fresh replica misses %d of 100 still-valid revocations (skewed-10m %v, skewed-2m %v), healthy=%v",
			missing, revoked(fresh, "skewed-10m"), revoked(fresh, "skewed-2m"), !fresh.Degraded())
	}

	// Expiry is absolute: exp + Leeway for a token, cut-off +
	// MaxTokenLifetime + Leeway otherwise, whatever the writer's clock.
	skew15 := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr()), Config: Config{Leeway: -1,
		Now: func() time.Time { return time.Now().Add(15 * time.Second) }}}, nil)
	exp20 := time.Now().Add(20 * time.Second)
	if err := skew15.RevokeToken(ctx, testIss, "exp-20s", exp20); err != nil {
		t.Fatal(err)
	}
	if got, want := pexpireTime(t, c, kindToken, "exp-20s"), ceilMillis(exp20.UnixNano()); got != want {
		t.Errorf("token key expires at %d, want exp %d (%v early)", got, want, time.Duration(want-got)*time.Millisecond)
	}
	at := time.Now()
	if err := skew15.RevokeSession(ctx, testIss, "sid-skew", at); err != nil {
		t.Fatal(err)
	}
	if got, want := pexpireTime(t, c, kindSession, "sid-skew"), ceilMillis(at.Add(DefaultMaxTokenLifetime).UnixNano()); got != want {
		t.Errorf("session key expires at %d, want at + MaxTokenLifetime %d", got, want)
	}
	// A token without exp lives MaxTokenLifetime + Leeway from Redis's now.
	before := c.Time(ctx).Val()
	if err := skew15.RevokeToken(ctx, testIss, "no-exp", time.Time{}); err != nil {
		t.Fatal(err)
	}
	after := c.Time(ctx).Val()
	got := pexpireTime(t, c, kindToken, "no-exp")
	if lo, hi := before.Add(DefaultMaxTokenLifetime).UnixMilli(), after.Add(DefaultMaxTokenLifetime).UnixMilli()+1; got < lo || got > hi {
		t.Errorf("token without exp expires at %d, want Redis's time + MaxTokenLifetime in [%d, %d]", got, lo, hi)
	}
}

// Finding 2: an evicting Redis. The store checks maxmemory-policy at start
// and at every audit, and reports degraded unless it is noeviction.
func TestRedisEvictionPolicy(t *testing.T) {
	srv := startRedis(t, "--maxmemory", "64mb", "--maxmemory-policy", "volatile-lru")
	ctx := context.Background()
	c := newClient(t, srv.addr())
	s := startLoaded(t, RedisConfig{Client: newClient(t, srv.addr())})
	reasonHas(t, s, "maxmemory-policy is volatile-lru")
	t.Logf("health with volatile-lru: %+v", s.Health())
	// Writes still go through, and the adapter introspects meanwhile.
	if err := s.RevokeToken(ctx, testIss, "j", time.Now().Add(time.Hour)); err != nil || !revoked(s, "j") {
		t.Fatalf("write while degraded by the policy: %v", err)
	}
	if err := c.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.WaitHealthy(wctx); err != nil {
		t.Fatalf("not healthy after the policy became noeviction: %v (%+v)", err, s.Health())
	}
	// Changed at run time: noticed at the next audit.
	if err := c.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	reasonHas(t, s, "maxmemory-policy is allkeys-lru")
}

// Finding 2: the review's scenario. An evicting Redis at 8 MB takes 60,000
// revocations; a replica started afterwards must refuse every one that was
// acknowledged, or report degraded.
func TestRedisEvictionNeverSilent(t *testing.T) {
	for _, policy := range []string{"volatile-lru", "allkeys-lru"} {
		t.Run(policy, func(t *testing.T) {
			srv := startRedis(t, "--maxmemory", "8mb", "--maxmemory-policy", policy)
			ctx := context.Background()
			c := newClient(t, srv.addr())
			a := startLoaded(t, RedisConfig{Client: newClient(t, srv.addr())})
			acked := writeMany(t, a, "ev-", 60_000, time.Now().Add(time.Hour))
			info := c.Info(ctx, "stats").Val()
			t.Logf("%d of 60000 acknowledged; %s", len(acked), infoField(info, "evicted_keys"))
			fresh := startLoaded(t, RedisConfig{Client: newClient(t, srv.addr())})
			missing := 0
			for _, id := range acked {
				if !revoked(fresh, id) {
					missing++
				}
			}
			t.Logf("fresh replica misses %d, health %+v", missing, fresh.Health())
			if missing > 0 && !fresh.Degraded() {
				t.Fatalf("a fresh replica misses %d of %d acknowledged revocations and reports healthy", missing, len(acked))
			}
			if !strings.Contains(fresh.Health().Reason, "maxmemory-policy") {
				t.Fatalf("health %+v does not name maxmemory-policy", fresh.Health())
			}
			// Fixing the policy brings nothing back: a replica started
			// afterwards still reports what Redis lost (whatever it evicted:
			// entries, or the index that lists them).
			for _, kv := range [][2]string{{"maxmemory", "0"}, {"maxmemory-policy", "noeviction"}} {
				if err := c.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
					t.Fatal(err)
				}
			}
			later := startLoaded(t, RedisConfig{Client: newClient(t, srv.addr())})
			if h := later.Health(); !h.Degraded || !strings.Contains(h.Reason, "redis lost") {
				t.Fatalf("a replica started after the policy was fixed: %+v", h)
			}
			t.Logf("after the fix: %+v", later.Health())
		})
	}
}

// writeMany revokes n jtis with 8 writers and returns the acknowledged ones.
func writeMany(tb testing.TB, s Store, prefix string, n int, exp time.Time) []string {
	tb.Helper()
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				id := prefix + strconv.Itoa(i)
				if err := s.RevokeToken(context.Background(), testIss, id, exp); err == nil {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return acked
}

func infoField(info, name string) string {
	for l := range strings.SplitSeq(info, "\r\n") {
		if strings.HasPrefix(l, name+":") {
			return l
		}
	}
	return name + ": absent"
}

// Finding 2: an entry indexed as live whose key is gone is lost, not
// "expired since the scan".
func TestRedisMissingEntryIsLoss(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	c := newClient(t, srv.addr())
	a := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	b := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	acked := writeMany(t, a, "m-", 100, time.Now().Add(time.Hour))
	if len(acked) != 100 {
		t.Fatalf("%d of 100 writes acknowledged", len(acked))
	}
	for i := range 10 { // what an eviction does
		if err := c.Del(ctx, "{tw}:e:"+identity(kindToken, testIss, "m-"+strconv.Itoa(i))).Err(); err != nil {
			t.Fatal(err)
		}
	}
	fresh := startLoaded(t, RedisConfig{Client: newClient(t, srv.addr())})
	reasonHas(t, fresh, "redis lost 10 deny-list entries")
	// The running replicas have the entries, but the shared list does not:
	// every replica reports it, so all agree.
	reasonHas(t, b, "redis lost")
	reasonHas(t, a, "redis lost")
	for i := 10; i < 100; i++ {
		if !revoked(fresh, "m-"+strconv.Itoa(i)) {
			t.Fatalf("m-%d missing on the fresh replica", i)
		}
	}
	// A replica started later learns it from Redis.
	later := startLoaded(t, RedisConfig{Client: newClient(t, srv.addr())})
	if !later.Degraded() {
		t.Fatalf("a later replica is healthy: %+v", later.Health())
	}
}

// Finding 2: with noeviction, a write Redis refuses for lack of memory is an
// error for the caller, and every replica reports degraded.
func TestRedisOutOfMemory(t *testing.T) {
	srv := startRedis(t, "--maxmemory", "8mb", "--maxmemory-policy", "noeviction")
	ctx := context.Background()
	a := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	b := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	exp := time.Now().Add(time.Hour)
	var acked []string
	var refused error
	for i := 0; i < 60_000 && refused == nil; i++ {
		id := "oom-" + strconv.Itoa(i)
		if err := a.RevokeToken(ctx, testIss, id, exp); err != nil {
			refused = err
			break
		}
		acked = append(acked, id)
	}
	if refused == nil {
		t.Fatalf("Redis at maxmemory 8mb acknowledged all of 60000 writes")
	}
	t.Logf("refused after %d writes: %v", len(acked), refused)
	if !errors.Is(refused, ErrFull) || !strings.Contains(refused.Error(), "maxmemory") {
		t.Fatalf("refused write: %v; want ErrFull naming maxmemory", refused)
	}
	if revoked(a, "oom-"+strconv.Itoa(len(acked))) {
		t.Fatal("the refused revocation is enforced locally")
	}
	waitFor(t, a.Degraded, "writer degraded")
	waitFor(t, b.Degraded, "other replica degraded")
	fresh := startLoaded(t, RedisConfig{Client: newClient(t, srv.addr())})
	if !fresh.Degraded() {
		t.Fatalf("a replica started after the refusal is healthy: %+v", fresh.Health())
	}
	for _, id := range acked {
		if !revoked(fresh, id) {
			t.Fatalf("acknowledged %s missing on a fresh replica", id)
		}
	}
	t.Logf("writer %+v; other %+v; fresh %+v", a.Health(), b.Health(), fresh.Health())
}

// cutter is a dialer whose connections the test can cut, and whose new
// dials it can refuse: a replica cut off from Redis while Redis stays up.
type cutter struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (c *cutter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return nil, errors.New("cut off")
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		c.conns = append(c.conns, conn)
	}
	return conn, err
}

func (c *cutter) set(cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = cut
	if cut {
		for _, conn := range c.conns {
			conn.Close()
		}
		c.conns = nil
	}
}

// Finding 3: the stream emptied (XTRIM MAXLEN 0) while a replica is cut
// off. Reconnecting, it must see that it missed entries, and reload.
func TestRedisStreamEmptiedWhileCutOff(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	c := newClient(t, srv.addr())
	a := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	var cut cutter
	bc := redis.NewClient(&redis.Options{Addr: srv.addr(), Dialer: cut.dial, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	t.Cleanup(func() { bc.Close() })
	b := newRedisStore(t, RedisConfig{Client: bc}, nil)
	if err := a.RevokeToken(ctx, testIss, "first", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return revoked(b, "first") }, "first on B")
	cut.set(true)
	waitFor(t, b.Degraded, "B degraded while cut off")
	acked := writeMany(t, a, "cut-", 100, time.Now().Add(time.Hour))
	if len(acked) != 100 {
		t.Fatalf("%d of 100 acknowledged", len(acked))
	}
	if err := c.XTrimMaxLen(ctx, "{tw}:log", 0).Err(); err != nil {
		t.Fatal(err)
	}
	cut.set(false)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.WaitHealthy(wctx); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, id := range acked {
		if !revoked(b, id) {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("B reconnected healthy and refuses %d of 100 revocations written while it was cut off", 100-missing)
	}
}

// Finding 4: Redis lost its data and the new stream IDs are behind the
// replica's position (the stream's IDs had run ahead of Redis's clock,
// as after a clock step or a failover to a host whose clock is behind).
// The replica must see the reset (the deny-list's epoch), reload, and
// report the loss.
func TestRedisResetIDsBehind(t *testing.T) {
	for _, how := range []string{"restart without persistence", "FLUSHALL"} {
		t.Run(how, func(t *testing.T) {
			srv := startRedis(t)
			ctx := context.Background()
			c := newClient(t, srv.addr())
			a := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
			b := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
			exp := time.Now().Add(time.Hour)
			if err := a.RevokeToken(ctx, testIss, "seed", exp); err != nil {
				t.Fatal(err)
			}
			if err := c.Do(ctx, "XSETID", "{tw}:log", strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)+"-0").Err(); err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				if err := a.RevokeToken(ctx, testIss, "before-"+strconv.Itoa(i), exp); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, func() bool { return revoked(b, "before-9") }, "before-9 on B")
			if how == "FLUSHALL" {
				if err := c.FlushAll(ctx).Err(); err != nil {
					t.Fatal(err)
				}
			} else {
				srv.kill()
				waitFor(t, b.Degraded, "B degraded")
				srv.start()
			}
			waitFor(t, func() bool { return a.RevokeToken(ctx, testIss, "after", exp) == nil }, "a write after the reset")
			waitFor(t, func() bool { return revoked(b, "after") }, "B reads the write made after the reset")
			reasonHas(t, b, "redis lost")
			t.Logf("B: %+v", b.Health())
			if !revoked(b, "before-3") {
				t.Fatal("B's mirror forgot an entry when Redis lost its data")
			}
			fresh := startLoaded(t, RedisConfig{Client: newClient(t, srv.addr())})
			if !fresh.Degraded() || !revoked(fresh, "after") {
				t.Fatalf("fresh replica after the reset: %+v, after refused %v", fresh.Health(), revoked(fresh, "after"))
			}
		})
	}
}

// Finding 5: after a revocation refused as "deny-list full", a running
// replica and one started later agree (Redis counts every entry: issuer
// not-before included).
func TestRedisFullStateAgreement(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	cfg := func() RedisConfig {
		return RedisConfig{Client: newClient(t, srv.addr()), Config: Config{MaxEntries: 3}}
	}
	a := newRedisStore(t, cfg(), nil)
	b := newRedisStore(t, cfg(), nil)
	exp := time.Now().Add(time.Hour)
	if err := a.SetIssuerNotBefore(ctx, testIss+"/2", time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"f-1", "f-2"} {
		if err := a.RevokeToken(ctx, testIss, id, exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.RevokeToken(ctx, testIss, "f-3", exp); !errors.Is(err, ErrFull) {
		t.Fatalf("fourth entry: %v, want ErrFull", err)
	}
	waitFor(t, b.Degraded, "B degraded")
	fresh := startLoaded(t, cfg())
	for name, s := range map[string]*Redis{"writer": a, "running": b, "fresh": fresh} {
		if h := s.Health(); !h.Degraded {
			t.Errorf("%s replica healthy after a refused revocation: %+v", name, h)
		}
	}
}

// Finding 5: an entry this version cannot read makes every replica report
// degraded, whether it meets the entry in the stream or in a load.
func TestRedisUnreadableEntry(t *testing.T) {
	for _, tc := range []struct {
		name           string
		kind, value, u string // u: the stream entry's end of life, when not the index's
		inLoad         bool   // a load meets it too (the index and key hold it)
	}{
		{"kind from a newer version", "7", "0", "", true},
		{"value this version cannot parse", "1", "1.7e12", "", true},
		{"end of life this version cannot parse", "1", "0", "9e12", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRedis(t)
			ctx := context.Background()
			c := newClient(t, srv.addr())
			b := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
			end := time.Now().Add(time.Hour).UnixMilli()
			su := strconv.FormatInt(end, 10)
			if tc.u != "" {
				su = tc.u
			}
			member := tc.kind + strconv.Itoa(len(testIss)) + ":" + testIss + "newer"
			seq := c.Incr(ctx, "{tw}:seq").Val()
			for _, err := range []error{
				c.Set(ctx, "{tw}:e:"+member, tc.value, time.Hour).Err(),
				c.ZAdd(ctx, "{tw}:idx", redis.Z{Score: float64(end), Member: member}).Err(),
				c.XAdd(ctx, &redis.XAddArgs{Stream: "{tw}:log", Values: []any{"s", seq, "k", tc.kind, "i", testIss,
					"d", "newer", "v", tc.value, "u", su}}).Err(),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			reasonHas(t, b, "cannot read")
			fresh := startLoaded(t, RedisConfig{Client: newClient(t, srv.addr())})
			if tc.inLoad && !fresh.Degraded() {
				t.Fatalf("fresh replica healthy with an unreadable entry in redis: %+v", fresh.Health())
			}
		})
	}
}

// Finding 5: SeenOnce records count against MaxEntries in Redis, as in
// the Memory store.
func TestRedisSeenOnceCounted(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	a := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr()), Config: Config{MaxEntries: 4}}, nil)
	exp := time.Now().Add(time.Hour)
	for i := range 4 {
		if first, err := a.SeenOnce(ctx, testIss, "once-"+strconv.Itoa(i), exp); !first || err != nil {
			t.Fatalf("SeenOnce %d = %v, %v", i, first, err)
		}
	}
	if first, err := a.SeenOnce(ctx, testIss, "once-4", exp); first || !errors.Is(err, ErrFull) {
		t.Fatalf("fifth SeenOnce with MaxEntries 4 = %v, %v; want false, ErrFull", first, err)
	}
	if first, err := a.SeenOnce(ctx, testIss, "once-1", exp); first || err != nil {
		t.Fatalf("replay of a recorded message = %v, %v; want false, nil", first, err)
	}
	if err := a.RevokeToken(ctx, testIss, "j", exp); !errors.Is(err, ErrFull) {
		t.Fatalf("revocation with the list full of replay records = %v; want ErrFull", err)
	}
	reasonHas(t, a, "full")
}

// TestRedisLossRecordRetried: a replica that sees Redis lose its data while
// Redis refuses writes cannot record the loss at once; it keeps trying, so
// a replica started after Redis takes writes again reports the loss too.
func TestRedisLossRecordRetried(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	c := newClient(t, srv.addr())
	a := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	if err := a.RevokeToken(ctx, testIss, "jti-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return c.Exists(ctx, "{tw}:epoch").Val() == 1 }, "the epoch in redis")
	// In one transaction: the epoch goes (Redis lost its data, as A will
	// see it) and writes are refused (no replica to satisfy
	// min-replicas-to-write), so A's record of the loss is refused.
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, "{tw}:epoch")
		p.ConfigSet(ctx, "min-replicas-to-write", "1")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	reasonHas(t, a, "redis lost its data")
	if n := c.Exists(ctx, "{tw}:lost").Val(); n != 0 {
		t.Fatalf("the loss was recorded while redis refused writes (exists = %d)", n)
	}
	if err := c.ConfigSet(ctx, "min-replicas-to-write", "0").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return c.Exists(ctx, "{tw}:lost").Val() == 1 }, "the loss recorded once redis takes writes")
	if fresh := startLoaded(t, RedisConfig{Client: newClient(t, srv.addr())}); !fresh.Degraded() {
		t.Fatalf("a replica started after the refused record is healthy: %+v", fresh.Health())
	}
}
