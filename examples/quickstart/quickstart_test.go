package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
)

func TestMain(m *testing.M) { keycloaktest.Main(m) }

// realm is what the quick start's tests need of a Keycloak, real or fake.
type realm interface {
	IssuerURL() string
	TokenURL() string
	PasswordToken(t testing.TB, clientID, clientSecret, username, password string) keycloaktest.Tokens
}

// TestQuickStartAgainstKeycloak runs the quick start's handler against the
// real Keycloak.
func TestQuickStartAgainstKeycloak(t *testing.T) {
	checkQuickStart(t, keycloaktest.New(t), nil)
}

// TestQuickStart is its unit-test twin: the same checks against the fake
// realm, without Java, plus the back-channel logout Keycloak posts when an
// administrator signs a user out.
func TestQuickStart(t *testing.T) {
	kc := fake.New(t, fake.Config{})
	checkQuickStart(t, kc, func(t *testing.T, apiURL string, do func(method, path, token string) int) {
		kc.UpdateClient(t, fake.MobileClientID, func(c *fake.Client) { c.BackchannelLogoutURL = apiURL + "/auth/backchannel-logout" })
		bob := kc.PasswordToken(t, fake.MobileClientID, "", "bob", "bob-password")
		kc.LogoutUser(t, "bob")
		if code := do(http.MethodGet, "/api/admin/report", bob.AccessToken); code != http.StatusUnauthorized {
			t.Fatalf("bob after the back-channel logout: %d, want 401", code)
		}
	})
}

// checkQuickStart serves the quick start's handler for kc and checks the
// routes, the app's logout, then more (may be nil).
func checkQuickStart(t *testing.T, kc realm, more func(t *testing.T, apiURL string, do func(method, path, token string) int)) {
	h, closeAll, err := newHandler(context.Background(), kc.IssuerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	srv := httptest.NewServer(h)
	defer srv.Close()
	send := func(method, path, token string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, srv.URL+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	alice := kc.PasswordToken(t, keycloaktest.MobileClientID, "", "alice", "alice-password")
	bob := kc.PasswordToken(t, keycloaktest.MobileClientID, "", "bob", "bob-password")
	tests := []struct {
		name, path, token string
		want              int
		body              string
	}{
		{"profile", "/api/profile", alice.AccessToken, 200, "hello alice [user]"},
		{"no token", "/api/profile", "", 401, ""},
		{"admin route for alice", "/api/admin/report", alice.AccessToken, 403, ""},
		{"admin route for bob", "/api/admin/report", bob.AccessToken, 200, "report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := send(http.MethodGet, tt.path, tt.token, nil); code != tt.want || !strings.Contains(body, tt.body) {
				t.Errorf("%d %q, want %d %q", code, body, tt.want, tt.body)
			}
		})
	}

	// The app's logout: the refresh token is revoked at Keycloak by the
	// mobile client's revoker that New built, the access token refused.
	login := kc.PasswordToken(t, keycloaktest.MobileClientID, "", "alice", "alice-password")
	if code, body := send(http.MethodPost, "/auth/logout", login.AccessToken, url.Values{"refresh_token": {login.RefreshToken}}); code != http.StatusNoContent {
		t.Fatalf("logout: %d %s, want 204", code, body)
	}
	if code, _ := send(http.MethodGet, "/api/profile", login.AccessToken, nil); code != http.StatusUnauthorized {
		t.Fatalf("profile after logout: %d, want 401", code)
	}
	refresh, err := http.PostForm(kc.TokenURL(), url.Values{"grant_type": {"refresh_token"},
		"client_id": {keycloaktest.MobileClientID}, "refresh_token": {login.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	refresh.Body.Close()
	if refresh.StatusCode != http.StatusBadRequest {
		t.Fatalf("refresh after logout: %d, want 400", refresh.StatusCode)
	}
	if more != nil {
		more(t, srv.URL, func(method, path, token string) int { code, _ := send(method, path, token, nil); return code })
	}
}
