// Command services starts and stops the Keycloak and Redis servers used by
// the integration tests and writes their addresses to .services.env at the
// repository root.
//
//	go run ./scripts/services up      start what is not already answering
//	go run ./scripts/services down    stop both by pid, remove .services.env; also
//	                                  stop the Keycloak that go test shares (below)
//	go run ./scripts/services status  exit 0 when both answer
//
// Without .services.env, `go test` starts one Keycloak for all its packages
// and leaves it running detached for the next run (keycloaktest,
// internal/testenv; state in .cache/shared-keycloak-*.env). It stops itself
// after KEYCLOAKTEST_IDLE (default 30m) without a test using it; down stops
// it at once, status lists it.
//
// Keycloak's log is .run/keycloak.log, Redis's .run/redis.log. Set
// TOKENWARDEN_API_URL before `up` to point the realm's back-channel logout
// and admin URLs at a running API, KEYCLOAK_START_TIMEOUT (a Go duration,
// default 12m) to bound the wait for Keycloak. SERVICES=keycloak (or redis)
// limits up, down and status to that one server; the default is both.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/services"
)

const envHeader = `written by "make services" (go run ./scripts/services up); removed by "make services-stop"`

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: services up|down|status")
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := services.RepoRoot(".")
	if err != nil {
		fatal(err)
	}
	p := paths{
		root:    root,
		envFile: filepath.Join(root, ".services.env"),
		run:     filepath.Join(root, ".run"),
		cache:   filepath.Join(root, ".cache"),
		realm:   filepath.Join(root, "testdata", "keycloak", services.Realm+"-realm.json"),
	}
	switch flag.Arg(0) {
	case "up":
		err = up(ctx, p)
	case "down":
		err = down(p)
	case "status":
		err = status(p)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

type paths struct{ root, envFile, run, cache, realm string }

// want reports whether SERVICES (a comma-separated list; empty means all)
// names the server.
func want(name string) bool {
	v := os.Getenv("SERVICES")
	return v == "" || slices.Contains(strings.Split(v, ","), name)
}

func (p paths) pidFile(name string) string { return filepath.Join(p.run, name+".pid") }

func readEnv(p paths) map[string]string {
	env, err := services.ReadEnvFile(p.envFile)
	if err != nil {
		return map[string]string{}
	}
	return env
}

func keycloakUp(env map[string]string) bool {
	if env["KEYCLOAK_URL"] == "" {
		return false
	}
	return services.WaitKeycloak(context.Background(), env["KEYCLOAK_URL"], env["KEYCLOAK_MANAGEMENT_URL"], services.Realm, 3*time.Second) == nil
}

func redisUp(env map[string]string) bool {
	addr := redisAddr(env["REDIS_URL"])
	return addr != "" && services.RedisPing(addr) == nil
}

func redisAddr(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "redis" {
		return ""
	}
	return u.Host
}

func up(ctx context.Context, p paths) error {
	if err := os.MkdirAll(p.run, 0o755); err != nil {
		return err
	}
	env := readEnv(p)
	env["KEYCLOAK_REALM"] = services.Realm
	log := os.Stdout

	if !want("keycloak") {
		// SERVICES leaves Keycloak out.
	} else if keycloakUp(env) {
		fmt.Fprintf(log, "keycloak: already running at %s\n", env["KEYCLOAK_URL"])
	} else {
		if err := stopPID(p, "keycloak", services.KeycloakHome(p.cache)); err != nil {
			return err
		}
		realm, err := os.ReadFile(p.realm)
		if err != nil {
			return err
		}
		t0 := time.Now()
		home, err := services.EnsureKeycloakDist(ctx, p.cache, log)
		if err != nil {
			return err
		}
		var extra []string
		if v := os.Getenv("TOKENWARDEN_API_URL"); v != "" {
			extra = append(extra, "TOKENWARDEN_API_URL="+v)
		}
		var timeout time.Duration
		if v := os.Getenv("KEYCLOAK_START_TIMEOUT"); v != "" {
			if timeout, err = time.ParseDuration(v); err != nil {
				return fmt.Errorf("KEYCLOAK_START_TIMEOUT: %w", err)
			}
		}
		kc, err := services.StartKeycloak(ctx, services.KeycloakOptions{
			StartTimeout: timeout,
			Home:         home,
			RealmJSON:    realm,
			LogFile:      filepath.Join(p.run, "keycloak.log"),
			Env:          extra,
			Detach:       true,
			Log:          log,
		})
		if err != nil {
			return err
		}
		if err := services.WaitKeycloak(ctx, kc.URL, "", services.Realm, 30*time.Second); err != nil {
			_ = kc.Stop()
			return fmt.Errorf("realm %s was not imported: %w\n%s", services.Realm, err, services.Tail(kc.LogFile, 50))
		}
		if err := services.WritePID(p.pidFile("keycloak"), kc.PID); err != nil {
			return err
		}
		env["KEYCLOAK_URL"] = kc.URL
		env["KEYCLOAK_MANAGEMENT_URL"] = kc.ManagementURL
		env["KEYCLOAK_ADMIN_USER"] = kc.AdminUser
		env["KEYCLOAK_ADMIN_PASSWORD"] = kc.AdminPassword
		env["KEYCLOAK_PID"] = strconv.Itoa(kc.PID)
		env["KEYCLOAK_VERSION"] = services.KeycloakVersion
		if err := services.WriteEnvFile(p.envFile, envHeader, env); err != nil {
			return err
		}
		fmt.Fprintf(log, "keycloak: up at %s, realm %s (%.1fs in all)\n", kc.URL, services.Realm, time.Since(t0).Seconds())
	}

	if !want("redis") {
		// SERVICES leaves Redis out.
	} else if redisUp(env) {
		fmt.Fprintf(log, "redis: already running at %s\n", env["REDIS_URL"])
	} else {
		if err := stopPID(p, "redis", "redis-server"); err != nil {
			return err
		}
		r, err := services.StartRedis(ctx, services.RedisOptions{Dir: p.run, Detach: true, Log: log})
		if err != nil {
			return err
		}
		if err := services.WritePID(p.pidFile("redis"), r.PID); err != nil {
			return err
		}
		env["REDIS_URL"] = r.URL
		env["REDIS_SERVER_BIN"] = r.Bin
		env["REDIS_PID"] = strconv.Itoa(r.PID)
	}
	if env["REDIS_SERVER_BIN"] == "" {
		if bin, err := services.RedisServerBin(); err == nil {
			env["REDIS_SERVER_BIN"] = bin
		}
	}
	if err := services.WriteEnvFile(p.envFile, envHeader, env); err != nil {
		return err
	}
	fmt.Fprintf(log, "services: wrote %s\n", p.envFile)
	return nil
}

func stopPID(p paths, name, mustContain string) error {
	pid, err := services.ReadPID(p.pidFile(name))
	if err != nil || pid == 0 {
		return err
	}
	if services.Alive(pid) {
		fmt.Printf("%s: stopping pid %d\n", name, pid)
	}
	if err := services.StopGroup(pid, mustContain, 30*time.Second); err != nil {
		return err
	}
	return os.Remove(p.pidFile(name))
}

func down(p paths) error {
	var errs []error
	if want("keycloak") {
		errs = append(errs, stopPID(p, "keycloak", services.KeycloakHome(p.cache)))
		errs = append(errs, services.StopShared(p.cache, os.Stdout))
	}
	if want("redis") {
		errs = append(errs, stopPID(p, "redis", "redis-server"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if !want("keycloak") || !want("redis") {
		// One server stopped: forget its variables, keep the other's.
		env := readEnv(p)
		for k := range env {
			if (want("keycloak") && strings.HasPrefix(k, "KEYCLOAK_") && k != "KEYCLOAK_REALM") ||
				(want("redis") && (k == "REDIS_URL" || k == "REDIS_PID")) {
				delete(env, k)
			}
		}
		if env["KEYCLOAK_URL"] != "" || env["REDIS_URL"] != "" {
			if err := services.WriteEnvFile(p.envFile, envHeader, env); err != nil {
				return err
			}
		} else if err := os.Remove(p.envFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		fmt.Println("services: stopped", os.Getenv("SERVICES"))
		return nil
	}
	if err := os.Remove(p.envFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fmt.Println("services: stopped")
	return nil
}

func status(p paths) error {
	if want("keycloak") {
		sharedStatus(p)
	}
	env := readEnv(p)
	if len(env) == 0 {
		return fmt.Errorf("services: %s missing (run make services)", p.envFile)
	}
	var errs []error
	for _, s := range []struct {
		name, urlVar string
		up           func(map[string]string) bool
	}{{"keycloak", "KEYCLOAK_URL", keycloakUp}, {"redis", "REDIS_URL", redisUp}} {
		switch {
		case !want(s.name):
		case s.up(env):
			fmt.Printf("%s: up at %s\n", s.name, env[s.urlVar])
		default:
			errs = append(errs, fmt.Errorf("%s: not answering at %q", s.name, env[s.urlVar]))
		}
	}
	return errors.Join(errs...)
}

// sharedStatus lists the Keycloak servers that go test started and shares
// (informational: they do not make status succeed).
func sharedStatus(p paths) {
	states, _ := services.SharedStates(p.cache)
	for _, f := range states {
		env, err := services.ReadEnvFile(f)
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(env["KEYCLOAK_PID"])
		state := "not running"
		if services.Alive(pid) {
			state = "up"
		}
		var idle string
		if fi, err := os.Stat(f); err == nil {
			idle = fmt.Sprintf(", idle %s of %s", time.Since(fi.ModTime()).Round(time.Second), env["KEYCLOAK_IDLE_STOP"])
		}
		fmt.Printf("keycloak (shared by go test): %s at %s, pid %d%s (%s)\n", state, env["KEYCLOAK_URL"], pid, idle, f)
	}
}
