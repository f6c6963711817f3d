package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

func TestMain(m *testing.M) { keycloaktest.Main(m) }

// TestQuickStartAgainstKeycloak runs the quick start's handler against the
// real Keycloak.
func TestQuickStartAgainstKeycloak(t *testing.T) {
	kc := keycloaktest.New(t)
	h, closeAll, err := newHandler(context.Background(), kc.IssuerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	srv := httptest.NewServer(h)
	defer srv.Close()
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
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want || !bytes.Contains(b, []byte(tt.body)) {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, b, tt.want, tt.body)
			}
		})
	}

	// The app's logout: the refresh token is revoked at Keycloak by the
	// mobile client's revoker that New built, the access token refused.
	login := kc.PasswordToken(t, keycloaktest.MobileClientID, "", "alice", "alice-password")
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/auth/logout",
		strings.NewReader(url.Values{"refresh_token": {login.RefreshToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+login.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d, want 204", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/api/profile", nil)
	req.Header.Set("Authorization", "Bearer "+login.AccessToken)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("profile after logout: %d, want 401", resp.StatusCode)
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
}
