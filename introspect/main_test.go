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
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goroutine leak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
