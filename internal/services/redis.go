package services

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// RedisServerBin finds redis-server: $REDIS_SERVER_BIN, then PATH, then the
// Debian location.
func RedisServerBin() (string, error) {
	if p := os.Getenv("REDIS_SERVER_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("services: REDIS_SERVER_BIN: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return filepath.Abs(p)
	}
	for _, p := range []string{"/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("services: redis-server not found")
}

// EnsureRedisServer returns the path of redis-server, installing Debian's
// redis-server package with apt-get when it is missing. The package's own
// service is kept from starting (policy-rc.d), so no system Redis is left
// running.
func EnsureRedisServer(ctx context.Context, logw io.Writer) (string, error) {
	logw = progress(logw)
	if p, err := RedisServerBin(); err == nil {
		return p, nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", errors.New("services: redis-server not found and apt-get unavailable: install Redis and put redis-server on PATH (or set REDIS_SERVER_BIN)")
	}
	var sudo []string
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("sudo"); err != nil {
			return "", errors.New("services: redis-server not found; installing it needs root (apt-get install redis-server)")
		}
		sudo = []string{"sudo", "-n"}
	}
	const policy = "/usr/sbin/policy-rc.d"
	if _, err := os.Stat(policy); errors.Is(err, os.ErrNotExist) && os.Geteuid() == 0 {
		// Keep invoke-rc.d from starting the packaged service.
		if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err == nil {
			defer os.Remove(policy)
		}
	}
	run := func(args ...string) error {
		args = append(sudo, args...)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("services: %s: %w\n%s", strings.Join(args, " "), err, lastLines(string(out), 20))
		}
		return nil
	}
	fmt.Fprintln(logw, "redis: redis-server missing, installing Debian's redis-server with apt-get")
	if err := run("apt-get", "update", "-q"); err != nil {
		return "", err
	}
	if err := run("apt-get", "install", "-y", "-q", "--no-install-recommends", "redis-server"); err != nil {
		return "", err
	}
	return RedisServerBin()
}

// RedisOptions configures StartRedis.
type RedisOptions struct {
	Bin     string // redis-server path; empty means EnsureRedisServer
	Dir     string // working directory for the log; empty means a temp dir
	Detach  bool   // outlive the calling process
	Timeout time.Duration
	Log     io.Writer
}

// Redis is a running redis-server.
type Redis struct {
	URL     string // redis://127.0.0.1:<port>/0
	Addr    string
	PID     int
	Bin     string
	LogFile string
}

// StartRedis starts redis-server on 127.0.0.1 with a free port, no
// persistence, and waits until it answers PING.
func StartRedis(ctx context.Context, opts RedisOptions) (*Redis, error) {
	logw := progress(opts.Log)
	bin := opts.Bin
	if bin == "" {
		var err error
		if bin, err = EnsureRedisServer(ctx, logw); err != nil {
			return nil, err
		}
	}
	dir := opts.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "redis-"); err != nil {
			return nil, err
		}
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	r := &Redis{Bin: bin, Addr: "127.0.0.1:" + strconv.Itoa(port), LogFile: filepath.Join(dir, "redis.log")}
	r.URL = "redis://" + r.Addr + "/0"
	cmd := exec.Command(bin,
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--protected-mode", "yes",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", dir,
		"--logfile", r.LogFile,
	)
	cmd.Dir = dir
	cmd.SysProcAttr = sysProcAttr(opts.Detach)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("services: start redis-server: %w", err)
	}
	r.PID = cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		if RedisPing(r.Addr) == nil {
			fmt.Fprintf(logw, "redis: ready on %s (pid %d)\n", r.Addr, r.PID)
			return r, nil
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("services: redis-server exited\n%s", Tail(r.LogFile, 20))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = r.Stop()
			return nil, fmt.Errorf("services: redis-server not answering on %s after %s\n%s", r.Addr, timeout, Tail(r.LogFile, 20))
		}
	}
}

// Stop stops the redis-server by pid.
func (r *Redis) Stop() error {
	if r == nil || r.PID == 0 {
		return nil
	}
	return StopGroup(r.PID, "redis-server", 10*time.Second)
}

// RedisPing sends PING to addr and expects +PONG.
func RedisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("services: redis at %s answered %q to PING", addr, strings.TrimSpace(line))
	}
	return nil
}
