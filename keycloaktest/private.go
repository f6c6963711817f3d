package keycloaktest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/services"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
)

// Private configures StartPrivate.
type Private struct {
	// HTTPPort is the port to listen on (127.0.0.1); zero means a free one.
	HTTPPort int
	// Args are kc.sh runtime options added to the usual ones, e.g.
	// "--hostname=http://kc.example.test:8080".
	Args []string
	// Env is added to Keycloak's environment.
	Env []string
}

// StartPrivate starts a Keycloak of the test's own, with options the
// shared one lacks, from the distribution that New would start (cached, or
// fetched with Maven; Java 17+), with an in-memory database, and stops it
// when the test ends. The returned Keycloak acts on the master realm: make
// a test realm with IsolatedRealm. A start takes a minute or so. Without
// Java or the distribution the test is skipped, or fails under CI=true.
func StartPrivate(t testing.TB, p Private) *Keycloak {
	t.Helper()
	testenv.SkipShort(t, "Keycloak")
	ctx := context.Background()
	if _, err := os.Stat(filepath.Join(services.KeycloakHome(testenv.CacheDir()), "bin", "kc.sh")); err != nil {
		if _, err := exec.LookPath("mvn"); err != nil {
			testenv.Unavailable(t, "keycloaktest: StartPrivate needs the Keycloak distribution in %s or mvn to fetch it", testenv.CacheDir())
		}
	}
	home, err := services.EnsureKeycloakDist(ctx, testenv.CacheDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The distribution may be running as the shared server: this one keeps
	// its transaction log apart (the database is in memory anyway).
	env := append([]string{"QUARKUS_TRANSACTION_MANAGER_OBJECT_STORE_DIRECTORY=" + filepath.Join(dir, "transaction-logs")}, p.Env...)
	srv, err := services.StartKeycloak(ctx, services.KeycloakOptions{
		Home: home, LogFile: filepath.Join(dir, "keycloak.log"), Env: env, HTTPPort: p.HTTPPort, Args: p.Args,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(dir, "transaction-logs")); err != nil {
			t.Logf("keycloaktest: the private Keycloak's transaction log is not where it was put: %v", err)
		}
		if err := srv.Stop(); err != nil {
			t.Errorf("keycloaktest: stop private keycloak: %v", err)
		}
	})
	return newKeycloak(srv.URL, "master", srv.AdminUser, srv.AdminPassword)
}
