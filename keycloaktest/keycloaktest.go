package keycloaktest

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v13"

	"github.com/tokenwarden/tokenwarden/internal/services"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
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

// Names in the tokenwarden test realm, which the fake serves too.
const (
	BackendClientID     = fake.BackendClientID
	BackendClientSecret = fake.BackendClientSecret
	MobileClientID      = fake.MobileClientID
	MobileRedirectURL   = fake.MobileRedirectURL
	// DPoPClientID is the mobile client with DPoP required
	// (dpop.bound.access.tokens): its tokens are bound to the app's key
	// (RFC 9449). A Keycloak whose tokenwarden realm was imported before
	// the client was added lacks it: use IsolatedRealm.
	DPoPClientID = fake.DPoPClientID
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
	keep func() // postpones the idle stop of a shared server
	mu   sync.Mutex
	stop func() error
}

// New returns the Keycloak of this test run, finding or starting it on
// first use, in this order:
//
//  1. KEYCLOAK_URL (with KEYCLOAK_REALM, KEYCLOAK_ADMIN_USER and
//     KEYCLOAK_ADMIN_PASSWORD) from the environment or, inside the
//     tokenwarden repository, from the .services.env that `make services`
//     writes;
//  2. a local Keycloak distribution fetched with Maven (Java 17+ and mvn on
//     PATH), checked against a pinned SHA-256, cached and started in dev
//     mode on 127.0.0.1 — the same code as `make services`. It is shared:
//     `go test ./...` runs one process per package, the first to need
//     Keycloak starts it detached and records it in a state file beside the
//     cached distribution, the others (and later runs) reuse it. It stops
//     itself after KEYCLOAKTEST_IDLE (a Go duration, default 30m) without a
//     test using it; in the tokenwarden repository `make services-stop`
//     stops it at once, elsewhere kill the KEYCLOAK_PID of
//     shared-keycloak-*.env in the cache directory;
//  3. the quay.io/keycloak/keycloak image when a Docker engine answers,
//     one container per test process, stopped by [Shutdown].
//
// KEYCLOAKTEST_START=never disables 2 and 3; =dist or =docker forces one.
// The distribution is cached in $KEYCLOAKTEST_CACHE_DIR, else in .cache/ of
// the tokenwarden repository, else in the user's cache directory.
// The realm imported by 2 and 3 is tokenwarden's test realm (clients
// `backend` and `mobile`, users alice and bob), or the file named by
// KEYCLOAK_REALM_FILE (a different realm file gets a server of its own).
// Call [Shutdown] from TestMain, or use [Main].
//
// When no Keycloak can be had, New skips the test, or fails it when the
// environment variable CI is "true"; [Require] always fails. Under -short
// both skip the test unless CI is "true", so `go test -short` needs no
// Keycloak.
func New(t testing.TB) *Keycloak {
	t.Helper()
	testenv.SkipShort(t, "Keycloak")
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
	testenv.SkipShort(t, "Keycloak")
	kc, err := get()
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

// Shutdown stops a Keycloak container that this package started for this
// process. A Keycloak found through KEYCLOAK_URL, or the one shared by the
// run's test processes, is left running.
func Shutdown() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.keep != nil {
		shared.keep()
	}
	if shared.stop == nil {
		return nil
	}
	err := shared.stop()
	shared.stop = nil
	return err
}

// Main runs the tests and then calls Shutdown:
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
	shared.mu.Lock()
	if shared.keep != nil {
		shared.keep()
	}
	shared.mu.Unlock()
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
	case "", "never", "dist", "docker":
	default:
		return nil, fmt.Errorf("keycloaktest: KEYCLOAKTEST_START=%q: want never, dist or docker", mode)
	}
	srv, err := testenv.SharedKeycloak(ctx, realm, realmData)
	if err == nil {
		shared.mu.Lock()
		shared.keep = srv.KeepAlive
		shared.mu.Unlock()
		return newKeycloak(srv.URL, realm, srv.AdminUser, srv.AdminPassword), nil
	}
	if !errors.Is(err, testenv.ErrNoKeycloak) {
		return nil, err
	}
	if mode == "docker" || (mode == "" && dockerAvailable(ctx)) {
		return startDocker(ctx, realm, realmData)
	}
	if mode == "" {
		err = fmt.Errorf("%v; no docker engine either", err)
	}
	return nil, fmt.Errorf("%w: KEYCLOAK_URL unset; %v", errUnavailable, err)
}

func newKeycloak(base, realm, user, pass string) *Keycloak {
	hc := &http.Client{Timeout: 30 * time.Second}
	gc := gocloak.NewClient(base)
	gc.RestyClient().SetTimeout(30 * time.Second)
	k := &Keycloak{BaseURL: base, Realm: realm, AdminUser: user, AdminPassword: pass, HTTPClient: hc, gc: gc}
	k.admin = &adminToken{}
	return k
}
