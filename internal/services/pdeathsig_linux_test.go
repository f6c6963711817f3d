package services

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServerDiesWithStarter proves that a server started without Detach (as
// keycloaktest starts Keycloak) is stopped when the starting process exits:
// a child test process starts redis-server, prints its pid and exits.
func TestServerDiesWithStarter(t *testing.T) {
	if os.Getenv("SERVICES_HELPER_START_REDIS") != "" {
		r, err := StartRedis(t.Context(), RedisOptions{Bin: os.Getenv("SERVICES_HELPER_START_REDIS"), Dir: t.TempDir()})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("pid", r.PID)
		os.Exit(0) // no Stop: the parent's death must do it
	}
	skipShort(t)
	bin, err := RedisServerBin()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("%v (make services installs it)", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithStarter$")
	cmd.Env = append(os.Environ(), "SERVICES_HELPER_START_REDIS="+bin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	pid := 0
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "pid "); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if pid == 0 {
		t.Fatalf("helper printed no pid:\n%s", out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for Alive(pid) {
		if time.Now().After(deadline) {
			_ = StopGroup(pid, "redis-server", time.Second)
			t.Fatalf("redis-server %d outlived the process that started it", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
