// Package apitest runs the checks every framework example must pass,
// against the fake Keycloak realm of keycloaktest/fake: no Java, no
// running Keycloak.
package apitest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/examples/internal/setup"
	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
)

// New starts a fake realm (users alice with the realm role user, bob with
// user and admin) and builds the Authenticator the examples mount, through
// setup.FromEnv as their main functions do. Both are closed when the test
// ends.
func New(t *testing.T) (*fake.Keycloak, *adapter.Authenticator) {
	t.Helper()
	kc := fake.New(t, fake.Config{})
	env := map[string]string{"TOKENWARDEN_ISSUER": kc.IssuerURL(), "TOKENWARDEN_INSECURE_HTTP": "true"}
	auth, err := setup.FromEnv(context.Background(), func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	return kc, auth
}

// CheckRoutes runs the checks every framework example must pass against h,
// which serves GET /api/profile (any valid token), GET /api/admin/report
// (realm role admin) and POST /auth/backchannel-logout: 401 with an RFC
// 6750 challenge without a token, with a forged, expired or foreign one,
// and with the token of a session Keycloak ended (its back-channel logout
// reaches h); the username in the profile; 403 insufficient_scope for a
// user without the role; 200 for an admin.
func CheckRoutes(t *testing.T, kc *fake.Keycloak, h http.Handler) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	kc.UpdateClient(t, fake.MobileClientID, func(c *fake.Client) { c.BackchannelLogoutURL = srv.URL + "/auth/backchannel-logout" })

	alice := kc.PasswordToken(t, fake.MobileClientID, "", "alice", "alice-password").AccessToken
	bob := kc.PasswordToken(t, fake.MobileClientID, "", "bob", "bob-password").AccessToken
	_, carol := kc.CreateUser(t, fake.User{Username: "carol", RealmRoles: []string{"user", "admin"}})
	ended := kc.PasswordToken(t, fake.MobileClientID, "", carol.Username, carol.Password).AccessToken
	kc.LogoutUser(t, carol.Username) // Keycloak posts a logout token to h

	tests := []struct {
		name, path, token string
		want              int
		wantAuth          string // prefix of WWW-Authenticate; "" means none
		wantBody          string
	}{
		{"no token", "/api/profile", "", 401, `Bearer realm="api"`, ""},
		{"forged token", "/api/profile", kc.Break(t, alice, fake.BadSignature), 401, `Bearer realm="api", error="invalid_token"`, ""},
		{"expired token", "/api/profile", kc.Break(t, alice, fake.Expired), 401, `Bearer realm="api", error="invalid_token"`, ""},
		{"token of another realm", "/api/profile", kc.Break(t, alice, fake.OtherIssuer), 401, `Bearer realm="api", error="invalid_token"`, ""},
		{"session ended at Keycloak", "/api/profile", ended, 401, `Bearer realm="api", error="invalid_token"`, ""},
		{"profile", "/api/profile", alice, 200, "", `"username":"alice"`},
		{"admin route without the role", "/api/admin/report", alice, 403, `Bearer realm="api", error="insufficient_scope"`, ""},
		{"admin route with the role", "/api/admin/report", bob, 200, "", `"requested_by":"bob"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			got := rec.Header().Get("WWW-Authenticate")
			if (tt.wantAuth == "") != (got == "") || !strings.HasPrefix(got, tt.wantAuth) {
				t.Errorf("WWW-Authenticate %q, want prefix %q", got, tt.wantAuth)
			}
			if tt.want != 200 && (strings.Contains(rec.Body.String(), `"report"`) || strings.Contains(rec.Body.String(), `"username"`)) {
				t.Errorf("a refused request reached the handler: %s", rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body %s, want it to contain %s", rec.Body, tt.wantBody)
			}
		})
	}
}
