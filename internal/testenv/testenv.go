// Package testenv gives tests the real services they need: Keycloak, Redis,
// a redis-server binary and the third-party test vectors.
//
// Each helper reads its environment variable (KEYCLOAK_URL, REDIS_URL,
// REDIS_SERVER_BIN, TOKENWARDEN_VECTORS). When a variable is unset it is
// taken from .services.env at the repository root, which `make services`
// writes (or from the file named by TOKENWARDEN_SERVICES_ENV). The service
// is then checked (an HTTP or PING round trip). When it is unavailable the
// test is skipped with a message naming `make services`, or fails when the
// environment variable CI is "true".
//
// When no Keycloak is configured, [Keycloak] uses the one shared by all the
// test processes of the run (`go test ./...` runs one per package), started
// from the distribution by the first that needs it ([SharedKeycloak]).
//
// Under -short the helpers for Keycloak and Redis skip the test unless CI
// is "true": `go test -short ./...` starts and talks to no server.
//
// The helpers are safe for concurrent use.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/services"
)

var (
	loadOnce sync.Once
	fileEnv  map[string]string
	fileErr  error
	envPath  string

	checked sync.Map // service check key -> checkResult
)

type checkResult struct{ err error }

// Lookup returns the value of key from the process environment or, when it
// is unset there, from .services.env at the repository root.
func Lookup(key string) (string, bool) {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v, true
	}
	loadOnce.Do(load)
	v, ok := fileEnv[key]
	return v, ok && v != ""
}

func load() {
	if p := os.Getenv("TOKENWARDEN_SERVICES_ENV"); p != "" {
		envPath = p
		fileEnv, fileErr = services.ReadEnvFile(p)
		return
	}
	root, err := services.RepoRoot(".")
	if err != nil {
		fileErr = err
		return
	}
	envPath = filepath.Join(root, ".services.env")
	fileEnv, fileErr = services.ReadEnvFile(envPath)
}

// CI reports whether the tests run under CI (env CI=true), where an
// unavailable service is a failure instead of a skip.
func CI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips the test, or fails it under CI, explaining that a
// service is missing and how to start it.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (start the services with `make services`)"
	if CI() {
		t.Fatal("testenv: " + msg + " [CI=true: failing instead of skipping]")
		return
	}
	t.Skip("testenv: " + msg)
}

// SkipShort skips the test under -short, unless CI is "true": it needs
// service, a real server.
func SkipShort(t testing.TB, service string) {
	t.Helper()
	if testing.Short() && !CI() {
		t.Skip("needs " + service + ": skipped under -short (go test without -short runs it)")
	}
}

// ErrNoKeycloak reports that no shared Keycloak can be started here.
var ErrNoKeycloak = errors.New("testenv: no keycloak can be started")

// SharedKeycloak returns the Keycloak shared by the test processes of this
// run for realm (services.SharedKeycloak), starting it when none answers,
// from the distribution cached in CacheDir. It fails with ErrNoKeycloak
// when KEYCLOAKTEST_START is "never" or "docker", or when it is unset and
// Java or the distribution (cached, or Maven to fetch it) is missing.
func SharedKeycloak(ctx context.Context, realm string, realmJSON []byte) (*services.Keycloak, error) {
	cache := CacheDir()
	switch mode := os.Getenv("KEYCLOAKTEST_START"); mode {
	case "never", "docker":
		return nil, fmt.Errorf("%w: KEYCLOAKTEST_START=%s", ErrNoKeycloak, mode)
	case "":
		if !canRunDist(cache) {
			return nil, fmt.Errorf("%w: needs java and the distribution (cached in %s, or mvn to fetch it)", ErrNoKeycloak, cache)
		}
	}
	var env []string
	if v := os.Getenv("TOKENWARDEN_API_URL"); v != "" {
		env = append(env, "TOKENWARDEN_API_URL="+v)
	}
	return services.SharedKeycloak(ctx, services.SharedOptions{
		CacheDir: cache, RealmJSON: realmJSON, Realm: realm, Env: env, Log: os.Stderr,
	})
}

// CacheDir is where the Keycloak distribution and the shared server's
// state are kept: $KEYCLOAKTEST_CACHE_DIR, else .cache/ of the tokenwarden
// repository, else the user's cache directory.
func CacheDir() string {
	if d := os.Getenv("KEYCLOAKTEST_CACHE_DIR"); d != "" {
		return d
	}
	if root, err := services.RepoRoot("."); err == nil && services.IsProjectRoot(root) {
		return filepath.Join(root, ".cache")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "tokenwarden-keycloaktest")
	}
	return filepath.Join(os.TempDir(), "tokenwarden-keycloaktest")
}

func canRunDist(cache string) bool {
	if _, err := exec.LookPath("java"); err != nil && os.Getenv("JAVA_HOME") == "" {
		return false
	}
	if _, err := os.Stat(filepath.Join(services.KeycloakHome(cache), "bin", "kc.sh")); err == nil {
		return true
	}
	_, err := exec.LookPath("mvn")
	return err == nil
}

var shared struct {
	once sync.Once
	kc   *services.Keycloak
	err  error
}

// sharedKeycloak is SharedKeycloak for the repository's test realm, once per
// process.
func sharedKeycloak(t testing.TB) *services.Keycloak {
	t.Helper()
	shared.once.Do(func() {
		root, err := services.RepoRoot(".")
		if err != nil {
			shared.err = fmt.Errorf("%w: %v", ErrNoKeycloak, err)
			return
		}
		realm, err := os.ReadFile(filepath.Join(root, "testdata", "keycloak", services.Realm+"-realm.json"))
		if err != nil {
			shared.err = fmt.Errorf("%w: %v", ErrNoKeycloak, err)
			return
		}
		shared.kc, shared.err = SharedKeycloak(context.Background(), services.Realm, realm)
	})
	if errors.Is(shared.err, ErrNoKeycloak) {
		Unavailable(t, "KEYCLOAK_URL is not set, no .services.env was found, and %v", shared.err)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	shared.kc.KeepAlive()
	return shared.kc
}

// Keycloak returns the base URL of the Keycloak serving the tokenwarden
// realm, e.g. http://127.0.0.1:41234: KEYCLOAK_URL, else the shared one.
// The realm's discovery document must answer.
func Keycloak(t testing.TB) string {
	t.Helper()
	SkipShort(t, "Keycloak")
	base, ok := Lookup("KEYCLOAK_URL")
	if !ok {
		return sharedKeycloak(t).URL
	}
	realm := KeycloakRealm(t)
	key := "keycloak " + base + " " + realm
	res, ok := checked.Load(key)
	if !ok {
		// One check per process: a dead server costs its timeout once.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := services.WaitKeycloak(ctx, base, "", realm, 10*time.Second)
		cancel()
		res, _ = checked.LoadOrStore(key, checkResult{err})
	}
	if err := res.(checkResult).err; err != nil {
		Unavailable(t, "keycloak at %s does not serve realm %q: %v", base, realm, err)
	}
	return base
}

// KeycloakRealm returns the realm name (KEYCLOAK_REALM, default "tokenwarden").
func KeycloakRealm(t testing.TB) string {
	t.Helper()
	if r, ok := Lookup("KEYCLOAK_REALM"); ok {
		return r
	}
	return services.Realm
}

// KeycloakIssuer returns the issuer URL of the realm.
func KeycloakIssuer(t testing.TB) string {
	t.Helper()
	return Keycloak(t) + "/realms/" + KeycloakRealm(t)
}

// KeycloakAdmin returns the master-realm administrator's credentials.
func KeycloakAdmin(t testing.TB) (user, password string) {
	t.Helper()
	SkipShort(t, "Keycloak")
	if _, ok := Lookup("KEYCLOAK_URL"); !ok {
		k := sharedKeycloak(t)
		return k.AdminUser, k.AdminPassword
	}
	user, ok1 := Lookup("KEYCLOAK_ADMIN_USER")
	password, ok2 := Lookup("KEYCLOAK_ADMIN_PASSWORD")
	if !ok1 || !ok2 {
		Unavailable(t, "KEYCLOAK_ADMIN_USER/KEYCLOAK_ADMIN_PASSWORD are not set")
	}
	return user, password
}

// Redis returns the URL of a running Redis, e.g. redis://127.0.0.1:6379/0.
// It answers PING.
func Redis(t testing.TB) string {
	t.Helper()
	SkipShort(t, "Redis")
	raw, ok := Lookup("REDIS_URL")
	if !ok {
		Unavailable(t, "REDIS_URL is not set and no .services.env was found")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("testenv: REDIS_URL %q is not a redis URL", raw)
	}
	if err := services.RedisPing(u.Host); err != nil {
		Unavailable(t, "redis at %s does not answer: %v", u.Host, err)
	}
	return raw
}

// RedisServerBin returns the path of a redis-server binary, for tests that
// start and stop their own Redis (outage tests).
func RedisServerBin(t testing.TB) string {
	t.Helper()
	SkipShort(t, "a Redis server")
	p, ok := Lookup("REDIS_SERVER_BIN")
	if !ok {
		var err error
		if p, err = exec.LookPath("redis-server"); err != nil {
			Unavailable(t, "REDIS_SERVER_BIN is not set and redis-server is not on PATH")
		}
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		Unavailable(t, "redis-server %q is not an executable file", p)
	}
	return p
}

// Vectors returns the directory of the third-party test vectors:
// $TOKENWARDEN_VECTORS, or ../shared/vectors beside the repository.
func Vectors(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("TOKENWARDEN_VECTORS")
	if dir == "" {
		root, err := services.RepoRoot(".")
		if err != nil {
			Unavailable(t, "test vectors: TOKENWARDEN_VECTORS unset and no repository root: %v", err)
		}
		dir = filepath.Join(filepath.Dir(root), "shared", "vectors")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		msg := fmt.Sprintf("test vectors not found at %s (set TOKENWARDEN_VECTORS)", dir)
		if CI() {
			t.Fatal("testenv: " + msg)
		}
		t.Skip("testenv: " + msg)
	}
	return dir
}

// HTTPClient returns a client with a timeout for talking to test services.
func HTTPClient() *http.Client { return &http.Client{Timeout: 30 * time.Second} }
