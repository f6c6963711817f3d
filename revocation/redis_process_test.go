package revocation

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	childEnv   = "TOKENWARDEN_REVOCATION_CHILD" // redis address for the child replica
	childCount = 1000
)

// childMain is the second replica, run in its own OS process: it revokes
// child-i, then waits until it has received every parent-i.
func childMain() int {
	c := redis.NewClient(&redis.Options{Addr: os.Getenv(childEnv), MaxRetries: -1})
	defer c.Close()
	s, err := NewRedis(RedisConfig{Client: c})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.WaitHealthy(ctx); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("ready")
	for i := range childCount {
		if err := s.RevokeToken(ctx, testIss, "child-"+strconv.Itoa(i), time.Now().Add(time.Hour)); err != nil {
			fmt.Println("error", err)
			return 1
		}
	}
	for i := 0; i < childCount; {
		if s.Check(Token{Issuer: testIss, ID: "parent-" + strconv.Itoa(i)}) == TokenMatch {
			i++
			continue
		}
		if ctx.Err() != nil {
			fmt.Println("error missing parent-" + strconv.Itoa(i))
			return 1
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Println("ok")
	return 0
}

func TestRedisTwoProcesses(t *testing.T) {
	srv := startRedis(t)
	s := newRedisStore(t, RedisConfig{Client: newClient(t, srv.addr())}, nil)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+srv.addr())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("child: %q", lines.Text())
	}
	ctx := context.Background()
	for i := range childCount {
		if err := s.RevokeToken(ctx, testIss, "parent-"+strconv.Itoa(i), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range childCount {
		id := "child-" + strconv.Itoa(i)
		waitFor(t, func() bool { return s.Check(Token{Issuer: testIss, ID: id}) == TokenMatch }, "%s from the child process", id)
	}
	var last string
	for lines.Scan() {
		last = lines.Text()
	}
	if err := cmd.Wait(); err != nil || strings.TrimSpace(last) != "ok" {
		t.Fatalf("child process: %v, last line %q", err, last)
	}
}
