package keycloaktest_test

import (
	"net/http"
	"testing"

	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// Every Keycloak-backed test of this package shares one Keycloak, stopped at
// the end if the package started it.
func TestMain(m *testing.M) { keycloaktest.Main(m) }

// An integration test gets a real Keycloak, the tokens a Capacitor app gets
// through the browser login with PKCE, and makes Keycloak end the session.
func Example() {
	testAPI := func(t *testing.T) {
		kc := keycloaktest.New(t) // skipped without Keycloak, fails under CI=true

		tokens := kc.LoginPKCE(t, "alice", "alice-password")

		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:8081/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+tokens.AccessToken)
		// ... call the API under test and expect 200 ...

		kc.DeleteSession(t, tokens.SessionID) // Keycloak sends a back-channel logout
		// ... call again and expect 401 once the API has processed it ...
	}
	_ = testAPI
}

// Tests that receive Keycloak's notifications use a realm of their own,
// pointed at their server.
func ExampleKeycloak_IsolatedRealm() {
	testLogout := func(t *testing.T, apiURL string) {
		kc := keycloaktest.New(t).IsolatedRealm(t, apiURL)
		_, user := kc.CreateUser(t, keycloaktest.User{RealmRoles: []string{"user"}})
		tokens := kc.PasswordToken(t, keycloaktest.MobileClientID, "", user.Username, user.Password)
		kc.LogoutUser(t, user.Username) // POSTs a logout token to apiURL + "/auth/backchannel-logout"
		_ = tokens
	}
	_ = testLogout
}
