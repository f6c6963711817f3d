package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/examples/internal/apitest"
	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
)

func TestGateway(t *testing.T) {
	kc, auth := apitest.New(t)

	calls := 0
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)

	alice := kc.PasswordToken(t, fake.MobileClientID, "", "alice", "alice-password")
	revoked := kc.PasswordToken(t, fake.MobileClientID, "", "bob", "bob-password")
	if err := auth.Store().RevokeSession(context.Background(), kc.IssuerURL(), revoked.SessionID, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A token whose claims try to smuggle headers: a role with a comma and
	// an email with a line break, signed by the realm.
	sneaky := kc.Resign(t, alice.AccessToken, func(_, c map[string]any) {
		c["realm_access"] = map[string]any{"roles": []string{"user,admin", "user"}}
		c["email"] = "m@example.com\r\nX-Auth-Roles: admin"
	})

	tests := []struct {
		name       string
		pass       bool
		token      string
		sent       map[string]string
		wantStatus int
		want       map[string]string // "" means absent
	}{
		{name: "no token", wantStatus: 401},
		{name: "garbage token", token: "a.b.c", wantStatus: 401},
		{name: "expired token", token: kc.Break(t, alice.AccessToken, fake.Expired), wantStatus: 401},
		{name: "revoked token", token: revoked.AccessToken, wantStatus: 401},
		{name: "identity forwarded, client headers stripped", token: alice.AccessToken,
			sent:       map[string]string{"X-Auth-Roles": "admin", "X-Auth-Subject": "root", "x-auth-extra": "1", "X-Forwarded-For": "6.6.6.6"},
			wantStatus: 200,
			want: map[string]string{"X-Auth-Subject": alice.Subject, "X-Auth-Username": "alice", "X-Auth-Roles": "user",
				"X-Auth-Session": alice.SessionID, "X-Auth-Scope": "openid profile email", "X-Auth-Extra": "", "Authorization": "",
				"X-Forwarded-For": "192.0.2.1"}},
		{name: "authorization passed when configured", pass: true, token: alice.AccessToken, wantStatus: 200,
			want: map[string]string{"Authorization": "Bearer " + alice.AccessToken, "X-Auth-Subject": alice.Subject}},
		{name: "unsafe claims left out", token: sneaky, wantStatus: 200,
			want: map[string]string{"X-Auth-Roles": "user", "X-Auth-Email": "", "X-Auth-Username": "alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw, err := newGateway(GatewayConfig{Upstream: u, Auth: auth.Middleware, PassAuthorization: tt.pass})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, "/orders?x=1", nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			for k, v := range tt.sent {
				req.Header.Set(k, v)
			}
			before := calls
			rec := httptest.NewRecorder()
			gw.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus != 200 {
				if calls != before {
					t.Error("a refused request reached the upstream")
				}
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate on a refusal")
				}
				return
			}
			var got http.Header
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if g := got.Get(k); g != v {
					t.Errorf("%s = %q, want %q", k, g, v)
				}
			}
		})
	}
}

func TestGatewayUpstreamDown(t *testing.T) {
	kc, auth := apitest.New(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(dead.URL)
	dead.Close()
	gw, err := newGateway(GatewayConfig{Upstream: u, Auth: auth.Middleware})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+kc.PasswordToken(t, fake.MobileClientID, "", "alice", "alice-password").AccessToken)
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", rec.Code)
	}
}

func TestGatewayConfig(t *testing.T) {
	pass := func(h http.Handler) http.Handler { return h }
	for _, tt := range []struct {
		name string
		cfg  GatewayConfig
	}{
		{"no upstream", GatewayConfig{Auth: pass}},
		{"relative upstream", GatewayConfig{Upstream: &url.URL{Path: "/x"}, Auth: pass}},
		{"no auth", GatewayConfig{Upstream: &url.URL{Scheme: "http", Host: "x"}}},
	} {
		if _, err := newGateway(tt.cfg); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}
