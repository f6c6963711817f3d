package revocation

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisBootstrap(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	a := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	const n = 50_000
	now := time.Now().Truncate(time.Second) // iat and pushed not-before are whole seconds
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if err := a.RevokeToken(ctx, testIss, "boot-"+strconv.Itoa(i), now.Add(time.Hour)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, err := range []error{
		a.RevokeSession(ctx, testIss, "boot-sid", now),
		a.RevokeSubject(ctx, testIss, "boot-sub", now),
		a.SetIssuerNotBefore(ctx, testIss+"/2", now),
		a.SetClientNotBefore(ctx, testIss, "boot-client", now),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	b := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	t.Logf("replica started after %d revocations loaded them in %v", n+4, time.Since(start))
	if b.Len() != n+3 {
		t.Fatalf("bootstrapped Len = %d, want %d", b.Len(), n+3)
	}
	for i := range n {
		if b.Check(Token{Issuer: testIss, ID: "boot-" + strconv.Itoa(i)}) != TokenMatch {
			t.Fatalf("boot-%d missing after bootstrap", i)
		}
	}
	old := now.Add(-time.Second)
	for tok, want := range map[Token]Match{
		{Issuer: testIss, SessionID: "boot-sid", IssuedAt: old}:                  SessionMatch,
		{Issuer: testIss, Subject: "boot-sub", IssuedAt: old}:                    SubjectMatch,
		{Issuer: testIss + "/2", IssuedAt: old}:                                  IssuerMatch,
		{Issuer: testIss, ClientID: "boot-client", IssuedAt: old}:                ClientMatch,
		{Issuer: testIss, ClientID: "boot-client", IssuedAt: now}:                NoMatch,
		{Issuer: testIss, SessionID: "boot-sid", IssuedAt: now.Add(time.Second)}: NoMatch,
	} {
		if got := b.Check(tok); got != want {
			t.Errorf("after bootstrap Check(%+v) = %v, want %v", tok, got, want)
		}
	}
}

// TestRedisKillRestart SIGKILLs redis-server (AOF, appendfsync always)
// while one replica writes and another checks, then restarts it.
func TestRedisKillRestart(t *testing.T) {
	srv := startRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	ctx := context.Background()
	a := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	var hmu sync.Mutex
	var changes []Health
	b := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr()), Config: Config{
		Observe: func(h Health) { hmu.Lock(); changes = append(changes, h); hmu.Unlock() }}}, nil)

	var mu sync.Mutex
	var acked []string
	var failed int
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // writer on replica A
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := "kill-" + strconv.Itoa(i)
			err := a.RevokeToken(ctx, testIss, id, time.Now().Add(time.Hour))
			mu.Lock()
			if err == nil {
				acked = append(acked, id)
			} else {
				if !errors.Is(err, ErrUnavailable) {
					t.Errorf("write error %v does not wrap ErrUnavailable", err)
				}
				failed++
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(5 * time.Millisecond)
			}
		}
	})
	wg.Go(func() { // checks on both replicas never stop and never un-revoke
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			ids := acked[max(0, len(acked)-50):]
			mu.Unlock()
			for _, id := range ids {
				if a.Check(Token{Issuer: testIss, ID: id}) != TokenMatch {
					t.Errorf("writer replica lost acknowledged %s", id)
					return
				}
				_ = b.Check(Token{Issuer: testIss, ID: id})
			}
		}
	})
	ackedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitFor(t, func() bool { return ackedCount() >= 500 }, "500 writes before the kill")
	t0 := time.Now()
	srv.kill()
	waitFor(t, b.Degraded, "replica B degraded after SIGKILL")
	t.Logf("B degraded %v after the kill", time.Since(t0))
	waitFor(t, a.Degraded, "replica A degraded after SIGKILL")
	beforeGap := ackedCount()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return failed >= 3 }, "writes refused during the gap")
	if b.Health().Reason == "" {
		t.Fatal("degraded without a reason")
	}
	if a.Check(Token{Issuer: testIss, ID: "kill-0"}) != TokenMatch || b.Check(Token{Issuer: testIss, ID: "kill-0"}) != TokenMatch {
		t.Fatal("a degraded replica forgot what it had")
	}
	t1 := time.Now()
	srv.start()
	t.Logf("redis restarted in %v", time.Since(t1))
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.WaitHealthy(wctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("replica B healthy %v after the restart began", time.Since(t1))
	waitFor(t, func() bool { return ackedCount() >= beforeGap+500 }, "500 writes after the restart")
	close(stop)
	wg.Wait()

	mu.Lock()
	all := append([]string(nil), acked...)
	mu.Unlock()
	// B follows the stream to the end; then it must hold every acknowledged write.
	last := all[len(all)-1]
	waitFor(t, func() bool { return b.Check(Token{Issuer: testIss, ID: last}) == TokenMatch }, "last write on B")
	for _, id := range all {
		if b.Check(Token{Issuer: testIss, ID: id}) != TokenMatch {
			t.Fatalf("replica B lost acknowledged %s", id)
		}
	}
	// A fresh replica loads from the restarted Redis: nothing acknowledged was lost there.
	c := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	for _, id := range all {
		if c.Check(Token{Issuer: testIss, ID: id}) != TokenMatch {
			t.Fatalf("redis lost acknowledged %s across SIGKILL", id)
		}
	}
	hmu.Lock()
	defer hmu.Unlock()
	sawDegraded := false
	for _, h := range changes[1:] {
		sawDegraded = sawDegraded || h.Degraded
	}
	if !sawDegraded || changes[len(changes)-1].Degraded || b.Degraded() {
		t.Fatalf("replica B health changes = %+v; want degraded during the gap and healthy after", changes)
	}
	t.Logf("%d writes acknowledged (%d before the kill), %d refused during the gap, %d health changes on B",
		len(all), beforeGap, failed, len(changes))
}

func TestRedisOverflow(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	cfg := func() RedisConfig {
		return RedisConfig{Client: newClient(t, srv.addr()), Config: Config{MaxEntries: 5}}
	}
	a := newRedisStore(t, cfg(), nil)
	b := newRedisStore(t, cfg(), nil)
	exp := time.Now().Add(time.Hour)
	for i := range 5 {
		if err := a.RevokeToken(ctx, testIss, "o-"+strconv.Itoa(i), exp); err != nil {
			t.Fatal(err)
		}
	}
	err := a.RevokeToken(ctx, testIss, "o-5", exp)
	if !errors.Is(err, ErrFull) {
		t.Fatalf("sixth revocation = %v, want ErrFull", err)
	}
	if !a.Degraded() {
		t.Fatal("writer not degraded after a refused revocation")
	}
	waitFor(t, b.Degraded, "other replica degraded by the lost-revocation marker")
	for i := range 5 {
		if b.Check(Token{Issuer: testIss, ID: "o-" + strconv.Itoa(i)}) != TokenMatch {
			t.Fatalf("o-%d lost on overflow", i)
		}
	}
	if b.Check(Token{Issuer: testIss, ID: "o-5"}) != NoMatch {
		t.Fatal("refused revocation visible")
	}
	// Updating an existing entry still works.
	if err := a.RevokeToken(ctx, testIss, "o-1", exp.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
}

// clusterPort returns a free port whose cluster bus port (+10000) is free too.
func clusterPort(t *testing.T) int {
	for range 100 {
		p := freePort(t)
		if p+10000 > 65535 {
			continue
		}
		if c, err := (&netDialer{}).free(p + 10000); err == nil && c {
			return p
		}
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

func TestRedisCluster(t *testing.T) {
	bin := redisServerBin(t)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		cli = strings.TrimSuffix(bin, "redis-server") + "redis-cli"
		if _, err := os.Stat(cli); err != nil {
			t.Skip("redis-cli not found")
		}
	}
	var addrs []string
	for range 3 {
		p := clusterPort(t)
		node := &redisProc{tb: t, bin: bin, dir: t.TempDir(), port: p}
		node.args = []string{"--port", strconv.Itoa(p), "--bind", "127.0.0.1", "--dir", node.dir,
			"--save", "", "--appendonly", "no", "--protected-mode", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", node.dir + "/nodes.conf", "--cluster-node-timeout", "5000"}
		node.start()
		t.Cleanup(node.kill)
		addrs = append(addrs, node.addr())
	}
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, a := range addrs {
		waitFor(t, func() bool {
			out, _ := exec.Command(cli, "-h", "127.0.0.1", "-p", strings.TrimPrefix(a, "127.0.0.1:"), "cluster", "info").Output()
			return strings.Contains(string(out), "cluster_state:ok")
		}, "cluster state ok on %s", a)
	}
	newCluster := func() RedisConfig {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ReadTimeout: 2 * time.Second, MaxRetries: 2})
		t.Cleanup(func() { c.Close() })
		return RedisConfig{Client: c}
	}
	testPropagation(t, newCluster, 10_000)
	// A replica that starts now bootstraps from the cluster.
	c3 := newRedisStore(t, newCluster(), nil)
	if c3.Len() != 10_000+3 {
		t.Fatalf("replica bootstrapped from the cluster: Len = %d, want %d", c3.Len(), 10_000+3)
	}
	if c3.Check(Token{Issuer: testIss, ID: "jti-9999"}) != TokenMatch {
		t.Fatal("jti-9999 missing after bootstrap from the cluster")
	}
	// The deny-list lives in one slot; report which node holds it.
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	slot, err := c.ClusterKeySlot(context.Background(), "{tw}:log").Result()
	if err != nil {
		t.Fatal(err)
	}
	t.Log(fmt.Sprintf("deny-list hash slot %d", slot))
}

// TestRedisDataLoss restarts redis-server without persistence: the
// follower sees the deny-list's epoch gone and reloads, the mirror keeps
// what it had (it never forgets on its own), and every replica, also one
// started afterwards, reports degraded: Redis lost acknowledged revocations.
func TestRedisDataLoss(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	a := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	b := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	exp := time.Now().Add(time.Hour)
	for i := range 10 {
		if err := a.RevokeToken(ctx, testIss, "before-"+strconv.Itoa(i), exp); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return b.Check(Token{Issuer: testIss, ID: "before-9"}) == TokenMatch }, "before-9 on B")
	srv.kill()
	waitFor(t, b.Degraded, "B degraded")
	srv.start()
	waitFor(t, func() bool { return a.RevokeToken(ctx, testIss, "after", exp) == nil }, "a write after the restart")
	waitFor(t, func() bool { return strings.Contains(b.Health().Reason, "redis lost") }, "B reports the loss")
	waitFor(t, func() bool { return strings.Contains(a.Health().Reason, "redis lost") }, "A reports the loss")
	if c := startLoaded(t, RedisConfig{Client: newClient(t, srv.addr())}); !c.Degraded() {
		t.Fatalf("a replica started after the loss is healthy: %+v", c.Health())
	}
	waitFor(t, func() bool { return b.Check(Token{Issuer: testIss, ID: "after"}) == TokenMatch }, "the write after the restart on B")
	if b.Check(Token{Issuer: testIss, ID: "before-3"}) != TokenMatch {
		t.Fatal("mirror forgot an entry when redis lost its data")
	}
}
