package soak

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/services"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
)

// redisServer is a redis-server child process owned by the test, on a fixed
// loopback port so that it can be killed and started again at the same
// address. It runs with appendonly yes and appendfsync always, the
// durability the revocation package documents: an acknowledged revocation
// survives the kill.
type redisServer struct {
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedisServer starts a private redis-server; it is killed when the
// test ends. Without a redis-server binary the test is skipped (fails under
// CI=true).
func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &redisServer{bin: testenv.RedisServerBin(t), dir: t.TempDir(), port: port}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kill)
	return s
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start runs redis-server and waits until it answers PING.
func (s *redisServer) start() error {
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--protected-mode", "no")
	s.cmd.Dir = s.dir
	s.cmd.SysProcAttr = childAttr()
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	s.done = done
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); logf.Close(); close(done) }(s.cmd)

	deadline := time.Now().Add(30 * time.Second)
	for {
		err := services.RedisPing(s.addr())
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not answer: %w", s.addr(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill sends SIGKILL to the process this test started (by its handle, never
// by name) and waits until it has exited.
func (s *redisServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}
