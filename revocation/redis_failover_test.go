package revocation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// stallProxy forwards TCP to a target and can hold back what the target
// sends: a replica's link to its primary stalls while the primary goes on
// acknowledging writes. Held data is dropped when the proxy closes, as it
// would be in a network that lost it.
type stallProxy struct {
	l      net.Listener
	target string
	stall  atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

func newStallProxy(tb testing.TB, target string) *stallProxy {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &stallProxy{l: l, target: target}
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

func (p *stallProxy) port() int { return p.l.Addr().(*net.TCPAddr).Port }

func (p *stallProxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		t, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			t.Close()
			return
		}
		p.conns = append(p.conns, c, t)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(t, c); t.Close() }()
		go p.forward(c, t)
	}
}

// forward copies from the target to the client, holding data while stalled.
func (p *stallProxy) forward(c, t net.Conn) {
	defer c.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := t.Read(buf)
		for n > 0 && p.stall.Load() {
			time.Sleep(time.Millisecond)
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
		}
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *stallProxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.l.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// sentinel runs redis-server in sentinel mode, watching master "tw".
func startSentinel(tb testing.TB, masterPort int) *redisProc {
	tb.Helper()
	p := &redisProc{tb: tb, bin: redisServerBin(tb), dir: tb.TempDir(), port: freePort(tb)}
	conf := filepath.Join(p.dir, "sentinel.conf")
	err := os.WriteFile(conf, fmt.Appendf(nil, `port %d
bind 127.0.0.1
protected-mode no
dir %s
sentinel monitor tw 127.0.0.1 %d 1
sentinel down-after-milliseconds tw 1000
sentinel failover-timeout tw 5000
sentinel parallel-syncs tw 1
`, p.port, p.dir, masterPort), 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	p.args = []string{conf, "--sentinel"}
	p.start()
	tb.Cleanup(p.kill)
	return p
}

// replicated is a Redis primary, a replica that reaches it through a
// stallProxy, and a Sentinel that fails over to the replica.
type replicated struct {
	primary, replica, sentinel *redisProc
	link                       *stallProxy
}

func startReplicated(t *testing.T) *replicated {
	t.Helper()
	fast := []string{"--repl-diskless-sync-delay", "0"} // full syncs at once
	rs := &replicated{primary: startRedis(t, fast...)}
	rs.link = newStallProxy(t, rs.primary.addr())
	rs.replica = startRedis(t, append(fast, "--replicaof", "127.0.0.1", strconv.Itoa(rs.link.port()))...)
	rc := newClient(t, rs.replica.addr())
	waitFor(t, func() bool {
		return strings.Contains(rc.Info(context.Background(), "replication").Val(), "master_link_status:up")
	}, "replica linked to the primary")
	// Started after the replica is linked, the Sentinel's first look at the
	// primary already lists it.
	rs.sentinel = startSentinel(t, rs.primary.port)
	sc := newClient(t, rs.sentinel.addr())
	waitFor(t, func() bool {
		v, _ := sc.Do(context.Background(), "SENTINEL", "replicas", "tw").Slice()
		return len(v) == 1
	}, "sentinel sees the replica")
	return rs
}

func (rs *replicated) client(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "tw", SentinelAddrs: []string{rs.sentinel.addr()},
		MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

// failover kills the primary (its unsent replication data is lost with
// it), lets the replica go on, and waits until the Sentinel has promoted
// it.
func (rs *replicated) failover(t *testing.T) {
	t.Helper()
	rs.primary.kill()
	rs.link.close()
	sc := newClient(t, rs.sentinel.addr())
	want := strconv.Itoa(rs.replica.port)
	waitFor(t, func() bool {
		v, _ := sc.Do(context.Background(), "SENTINEL", "get-master-addr-by-name", "tw").StringSlice()
		return len(v) == 2 && v[1] == want
	}, "sentinel promotes the replica")
	rc := newClient(t, rs.replica.addr())
	waitFor(t, func() bool {
		return strings.Contains(rc.Info(context.Background(), "replication").Val(), "role:master")
	}, "replica is the primary")
}

// Finding 6, with WAIT: no acknowledged revocation is lost when the primary
// dies and Sentinel promotes the replica. While the replica does not
// receive writes, writes fail instead of being acknowledged.
func TestRedisFailoverWait(t *testing.T) {
	rs := startReplicated(t)
	ctx := context.Background()
	a := newRedisStore(t, RedisConfig{Client: rs.client(t), WaitReplicas: 1, WaitTimeout: 5 * time.Second}, nil)
	// A second writer that gives up sooner, for the writes that must fail.
	impatient := newRedisStore(t, RedisConfig{Client: rs.client(t), WaitReplicas: 1, WaitTimeout: 200 * time.Millisecond}, nil)
	exp := time.Now().Add(time.Hour)
	acked := writeMany(t, a, "ok-", 200, exp)
	if len(acked) != 200 {
		t.Fatalf("%d of 200 writes acknowledged with a healthy replica", len(acked))
	}
	rs.link.stall.Store(true)
	for i := range 10 {
		err := impatient.RevokeToken(ctx, testIss, "stalled-"+strconv.Itoa(i), exp)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("write while the replica receives nothing: %v, want ErrUnavailable", err)
		}
		if i == 0 {
			t.Logf("write while the replica receives nothing: %v", err)
		}
	}
	t0 := time.Now()
	rs.failover(t)
	t.Logf("failover took %v", time.Since(t0))
	// The old primary comes back; Sentinel makes it a replica of the new
	// one, and writes are confirmed again.
	rs.primary.start()
	waitFor(t, func() bool { return a.RevokeToken(ctx, testIss, "after", exp) == nil }, "a confirmed write after the failover")
	t.Logf("writes confirmed again %v after the kill", time.Since(t0))
	acked = append(acked, "after")
	fresh := startLoaded(t, RedisConfig{Client: rs.client(t)})
	for _, id := range acked {
		if !revoked(fresh, id) {
			t.Fatalf("acknowledged %s lost across the failover", id)
		}
		if !revoked(a, id) {
			t.Fatalf("acknowledged %s missing on the writer", id)
		}
	}
	t.Logf("writer after the failover: %+v; fresh: %+v", a.Health(), fresh.Health())
}

// Finding 6, without WAIT: the primary acknowledges writes the replica
// never gets, then dies. Those revocations are lost; every replica must
// report degraded, also one started after the failover.
func TestRedisFailoverWithoutWait(t *testing.T) {
	rs := startReplicated(t)
	a := newRedisStore(t, RedisConfig{Client: rs.client(t)}, nil)
	b := newRedisStore(t, RedisConfig{Client: rs.client(t)}, nil)
	exp := time.Now().Add(time.Hour)
	acked := writeMany(t, a, "ok-", 100, exp)
	rs.link.stall.Store(true)
	stalled := writeMany(t, a, "stalled-", 50, exp)
	if len(acked) != 100 || len(stalled) != 50 {
		t.Fatalf("acknowledged %d of 100 and %d of 50", len(acked), len(stalled))
	}
	waitFor(t, func() bool { return revoked(b, "stalled-49") }, "B applied the stalled writes")
	rs.failover(t)
	acked = append(acked, stalled...)
	waitFor(t, func() bool { return strings.Contains(b.Health().Reason, "redis lost") }, "B reports lost revocations")
	waitFor(t, func() bool { return strings.Contains(a.Health().Reason, "redis lost") }, "A reports lost revocations")
	fresh := startLoaded(t, RedisConfig{Client: rs.client(t)})
	missing := 0
	for _, id := range acked {
		if !revoked(fresh, id) {
			missing++
		}
	}
	t.Logf("a fresh replica misses %d acknowledged revocations; health %+v", missing, fresh.Health())
	if missing > 0 && !fresh.Degraded() {
		t.Fatalf("a fresh replica misses %d acknowledged revocations and reports healthy", missing)
	}
}
