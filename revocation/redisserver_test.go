package revocation

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
)

// redisServerBin returns the redis-server binary from the project's test
// environment ($REDIS_SERVER_BIN, .services.env or PATH); without one the
// test is skipped, or fails under CI=true.
func redisServerBin(tb testing.TB) string {
	tb.Helper()
	return testenv.RedisServerBin(tb)
}

// redisProc is a redis-server child process owned by one test.
type redisProc struct {
	tb   testing.TB
	bin  string
	dir  string
	port int
	args []string
	cmd  *exec.Cmd
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedis starts a private redis-server on a free loopback port. extra
// arguments override the defaults (no persistence).
func startRedis(tb testing.TB, extra ...string) *redisProc {
	tb.Helper()
	return startRedisIn(tb, tb.TempDir(), extra...)
}

// startRedisIn is startRedis with its files in dir.
func startRedisIn(tb testing.TB, dir string, extra ...string) *redisProc {
	tb.Helper()
	p := &redisProc{tb: tb, bin: redisServerBin(tb), dir: dir, port: freePort(tb)}
	p.args = append([]string{"--port", strconv.Itoa(p.port), "--bind", "127.0.0.1",
		"--dir", p.dir, "--save", "", "--appendonly", "no", "--protected-mode", "no"}, extra...)
	p.start()
	tb.Cleanup(p.kill)
	return p
}

// memDir returns a new directory in memory (/dev/shm) when the machine has
// one, else tb.TempDir(). An fsync there returns at once, so a Sentinel
// (which fsyncs its config at every change) or a node with appendfsync
// always does not stop answering for seconds on a busy shared disk. Files
// there survive the SIGKILL the tests use.
func memDir(tb testing.TB) string {
	tb.Helper()
	d, err := os.MkdirTemp("/dev/shm", "tokenwarden-redis-")
	if err != nil {
		return tb.TempDir()
	}
	tb.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

func (p *redisProc) start() {
	p.tb.Helper()
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Dir = p.dir
	logf, err := os.Create(filepath.Join(p.dir, fmt.Sprintf("redis-%d.log", time.Now().UnixNano())))
	if err != nil {
		p.tb.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		p.tb.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); logf.Close() }()
	waitRedis(p.tb, p.addr())
}

// dumpLogs writes the process's logs, one per start, to the test log.
func (p *redisProc) dumpLogs() {
	logs, _ := filepath.Glob(filepath.Join(p.dir, "redis-*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		p.tb.Logf("%s (port %d):\n%s", filepath.Base(l), p.port, b)
	}
}

func (p *redisProc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }
func (p *redisProc) url() string  { return "redis://" + p.addr() + "/0" }

// kill sends SIGKILL and waits until the port is free.
func (p *redisProc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	for range 500 {
		c, err := net.DialTimeout("tcp", p.addr(), 50*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	p.cmd = nil
}

func waitRedis(tb testing.TB, addr string) {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redis at %s did not start: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newClient(tb testing.TB, addr string) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: 2 * time.Second,
		WriteTimeout: 2 * time.Second, MaxRetries: -1})
	tb.Cleanup(func() { c.Close() })
	return c
}

// newRedisStore starts a Redis store and waits for its first load.
func newRedisStore(tb testing.TB, cfg RedisConfig, hook func(k kind, iss, id string)) *Redis {
	tb.Helper()
	r, err := newRedis(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	r.afterApply = hook
	r.start()
	tb.Cleanup(func() { r.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.WaitHealthy(ctx); err != nil {
		tb.Fatal(err)
	}
	return r
}

type netDialer struct{}

// free reports whether nothing listens on the loopback port and it can be bound.
func (netDialer) free(port int) (bool, error) {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false, err
	}
	l.Close()
	return true, nil
}
