package keycloaktest

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v13"

	"github.com/tokenwarden/tokenwarden/internal/services"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
)

// realmJSON is tokenwarden's test realm, a copy of
// testdata/keycloak/tokenwarden-realm.json (a test keeps them equal).
//
//go:embed tokenwarden-realm.json
var realmJSON []byte

// RealmJSON returns the tokenwarden test realm as imported by New.
func RealmJSON() []byte { return append([]byte(nil), realmJSON...) }

// Version is the Keycloak release started by this package.
const Version = services.KeycloakVersion

// Names in the tokenwarden test realm.
const (
	BackendClientID     = "backend"
	BackendClientSecret = "backend-secret"
	MobileClientID      = "mobile"
	MobileRedirectURL   = "com.example.app:/callback"
)

// Keycloak is a running Keycloak and one realm in it.
type Keycloak struct {
	// BaseURL is Keycloak's root, e.g. http://127.0.0.1:41234.
	BaseURL string
	// Realm is the realm the helpers act on.
	Realm string
	// AdminUser and AdminPassword log in to the master realm.
	AdminUser, AdminPassword string
	// HTTPClient talks to Keycloak (30 s timeout).
	HTTPClient *http.Client

	gc    *gocloak.GoCloak
	admin *adminToken
}

// IssuerURL returns the realm's issuer, BaseURL + "/realms/" + Realm.
func (k *Keycloak) IssuerURL() string { return k.BaseURL + "/realms/" + k.Realm }

// TokenURL returns the realm's token endpoint.
func (k *Keycloak) TokenURL() string { return k.IssuerURL() + "/protocol/openid-connect/token" }

// GoCloak returns the gocloak client bound to BaseURL.
func (k *Keycloak) GoCloak() *gocloak.GoCloak { return k.gc }

// errUnavailable marks "no Keycloak here" as opposed to a broken one.
var errUnavailable = errors.New("keycloaktest: no keycloak available")

var shared struct {
	once sync.Once
	kc   *Keycloak
	err  error
	mu   sync.Mutex
	stop func() error
}

// New returns the Keycloak shared by this test process, finding or starting
// it on first use (see the package documentation). Without one the test is
// skipped, or fails under CI=true.
func New(t testing.TB) *Keycloak {
	t.Helper()
	kc, err := get()
	if errors.Is(err, errUnavailable) {
		msg := err.Error() + " (set KEYCLOAK_URL, install Java 17+ and Maven, or Docker; in the tokenwarden repository run `make services`)"
		if testenv.CI() {
			t.Fatal(msg + " [CI=true: failing instead of skipping]")
		}
		t.Skip(msg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

// Require is New but fails the test when no Keycloak is available.
func Require(t testing.TB) *Keycloak {
	t.Helper()
	kc, err := get()
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

// Shutdown stops a Keycloak that this package started. It does nothing
// when Keycloak was found through KEYCLOAK_URL.
func Shutdown() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.stop == nil {
		return nil
	}
	err := shared.stop()
	shared.stop = nil
	return err
}

// Main runs the tests and stops a Keycloak started for them:
//
//	func TestMain(m *testing.M) { keycloaktest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if err := Shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func get() (*Keycloak, error) {
	shared.once.Do(func() {
		shared.kc, shared.err = find(context.Background())
	})
	return shared.kc, shared.err
}

func find(ctx context.Context) (*Keycloak, error) {
	realm, _ := testenv.Lookup("KEYCLOAK_REALM")
	if base, ok := testenv.Lookup("KEYCLOAK_URL"); ok {
		if realm == "" {
			realm = services.Realm
		}
		user, _ := testenv.Lookup("KEYCLOAK_ADMIN_USER")
		pass, _ := testenv.Lookup("KEYCLOAK_ADMIN_PASSWORD")
		if user == "" {
			user, pass = "admin", "admin"
		}
		if err := services.WaitKeycloak(ctx, base, "", realm, 15*time.Second); err != nil {
			return nil, fmt.Errorf("%w: KEYCLOAK_URL=%s does not serve realm %q: %v", errUnavailable, base, realm, err)
		}
		return newKeycloak(base, realm, user, pass), nil
	}

	realmData := realmJSON
	if f := os.Getenv("KEYCLOAK_REALM_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("keycloaktest: KEYCLOAK_REALM_FILE: %w", err)
		}
		realmData = b
	}
	if realm == "" {
		var r struct {
			Realm string `json:"realm"`
		}
		if err := json.Unmarshal(realmData, &r); err != nil || r.Realm == "" {
			return nil, fmt.Errorf("keycloaktest: realm file has no \"realm\" name: %v", err)
		}
		realm = r.Realm
	}

	mode := os.Getenv("KEYCLOAKTEST_START")
	switch mode {
	case "never":
		return nil, fmt.Errorf("%w: KEYCLOAK_URL unset and KEYCLOAKTEST_START=never", errUnavailable)
	case "", "dist", "docker":
	default:
		return nil, fmt.Errorf("keycloaktest: KEYCLOAKTEST_START=%q: want never, dist or docker", mode)
	}
	if mode == "dist" || (mode == "" && canRunDist()) {
		return startDist(ctx, realm, realmData)
	}
	if mode == "docker" || (mode == "" && dockerAvailable(ctx)) {
		return startDocker(ctx, realm, realmData)
	}
	return nil, fmt.Errorf("%w: KEYCLOAK_URL unset, no java+mvn and no docker engine", errUnavailable)
}

func canRunDist() bool {
	if _, err := exec.LookPath("java"); err != nil {
		return false
	}
	if _, err := os.Stat(filepath.Join(services.KeycloakHome(cacheDir()), "bin", "kc.sh")); err == nil {
		return true
	}
	_, err := exec.LookPath("mvn")
	return err == nil
}

// cacheDir is where the distribution is kept: $KEYCLOAKTEST_CACHE_DIR,
// <repo>/.cache inside the tokenwarden repository, else the user's cache.
func cacheDir() string {
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

func startDist(ctx context.Context, realm string, realmData []byte) (*Keycloak, error) {
	dir := cacheDir()
	home, err := services.EnsureKeycloakDist(ctx, dir, os.Stderr)
	if err != nil {
		return nil, err
	}
	var env []string
	if v := os.Getenv("TOKENWARDEN_API_URL"); v != "" {
		env = append(env, "TOKENWARDEN_API_URL="+v)
	}
	srv, err := services.StartKeycloak(ctx, services.KeycloakOptions{
		Home:          home,
		RealmJSON:     realmData,
		RealmFileName: realm + "-realm.json",
		LogFile:       filepath.Join(dir, fmt.Sprintf("keycloaktest-%d.log", os.Getpid())),
		Env:           env,
		Log:           os.Stderr,
	})
	if err != nil {
		return nil, err
	}
	if err := services.WaitKeycloak(ctx, srv.URL, "", realm, 30*time.Second); err != nil {
		_ = srv.Stop()
		return nil, fmt.Errorf("keycloaktest: realm %q not imported: %w\n%s", realm, err, services.Tail(srv.LogFile, 50))
	}
	shared.mu.Lock()
	shared.stop = srv.Stop
	shared.mu.Unlock()
	return newKeycloak(srv.URL, realm, srv.AdminUser, srv.AdminPassword), nil
}

func newKeycloak(base, realm, user, pass string) *Keycloak {
	hc := &http.Client{Timeout: 30 * time.Second}
	gc := gocloak.NewClient(base)
	gc.RestyClient().SetTimeout(30 * time.Second)
	k := &Keycloak{BaseURL: base, Realm: realm, AdminUser: user, AdminPassword: pass, HTTPClient: hc, gc: gc}
	k.admin = &adminToken{}
	return k
}
