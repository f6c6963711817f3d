package introspect_test

import (
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// TestMain fails the run if a test leaves a goroutine behind (a shared
// upstream call that outlived Close, a retry timer).
func TestMain(m *testing.M) {
	code := m.Run()
	if err := keycloaktest.Shutdown(); err != nil { // stops a Keycloak started for this run
		os.Stderr.WriteString(err.Error() + "\n")
		code = 1
	}
	if code == 0 {
		http.DefaultClient.CloseIdleConnections()
		// Idle keep-alive connections of other HTTP clients (the Keycloak
		// admin helpers) are not leaks of this package.
		if err := goleak.Find(
			goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		); err != nil {
			os.Stderr.WriteString("goroutine leak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
