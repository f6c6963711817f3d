package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
)

// TestQuickStart is TestQuickStartAgainstKeycloak's unit-test twin: the
// same handler against the fake realm, without Java, plus the back-channel
// logout Keycloak posts when an administrator signs a user out.
func TestQuickStart(t *testing.T) {
	kc := fake.New(t, fake.Config{})
	h, closeAll, err := newHandler(context.Background(), kc.IssuerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	srv := httptest.NewServer(h)
	defer srv.Close()
	kc.UpdateClient(t, fake.MobileClientID, func(c *fake.Client) { c.BackchannelLogoutURL = srv.URL + "/auth/backchannel-logout" })

	do := func(method, path, token string, form url.Values) (int, string) {
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

	alice := kc.PasswordToken(t, fake.MobileClientID, "", "alice", "alice-password")
	bob := kc.PasswordToken(t, fake.MobileClientID, "", "bob", "bob-password")
	tests := []struct {
		name, path, token string
		want              int
		body              string
	}{
		{"profile", "/api/profile", alice.AccessToken, 200, "hello alice [user]"},
		{"no token", "/api/profile", "", 401, ""},
		{"expired token", "/api/profile", kc.Break(t, alice.AccessToken, fake.Expired), 401, ""},
		{"admin route for alice", "/api/admin/report", alice.AccessToken, 403, ""},
		{"admin route for bob", "/api/admin/report", bob.AccessToken, 200, "report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := do(http.MethodGet, tt.path, tt.token, nil); code != tt.want || !strings.Contains(body, tt.body) {
				t.Errorf("%d %q, want %d %q", code, body, tt.want, tt.body)
			}
		})
	}

	// The app's logout: 204, the access token refused, the refresh token
	// revoked at the realm.
	if code, body := do(http.MethodPost, "/auth/logout", alice.AccessToken, url.Values{"refresh_token": {alice.RefreshToken}}); code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", code, body)
	}
	if code, _ := do(http.MethodGet, "/api/profile", alice.AccessToken, nil); code != http.StatusUnauthorized {
		t.Fatalf("profile after logout: %d, want 401", code)
	}
	resp, err := http.PostForm(kc.TokenURL(), url.Values{"grant_type": {"refresh_token"},
		"client_id": {fake.MobileClientID}, "refresh_token": {alice.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("refresh after logout: %d, want 400", resp.StatusCode)
	}

	// An administrator signs bob out: Keycloak posts a logout token to the
	// back-channel route, and bob's token is refused.
	kc.LogoutUser(t, "bob")
	if code, _ := do(http.MethodGet, "/api/admin/report", bob.AccessToken, nil); code != http.StatusUnauthorized {
		t.Fatalf("bob after the back-channel logout: %d, want 401", code)
	}
}
