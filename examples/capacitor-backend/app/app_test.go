package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/dpop"
	"github.com/tokenwarden/tokenwarden/examples/capacitor-backend/app"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

func TestMain(m *testing.M) { keycloaktest.Main(m) }

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr bool
		check   func(t *testing.T, c app.Config)
	}{
		{name: "keycloak url and realm", env: map[string]string{"KEYCLOAK_URL": "http://127.0.0.1:8080", "KEYCLOAK_REALM": "acme"},
			check: func(t *testing.T, c app.Config) {
				if c.Issuer != "http://127.0.0.1:8080/realms/acme" || c.Audience != "backend" || c.MobileClientID != "mobile" ||
					c.Listen != "127.0.0.1:8081" || c.Introspect != app.IntrospectDegraded || !c.InsecureAllowHTTP ||
					strings.Join(c.CORSOrigins, " ") != "capacitor://localhost https://localhost" {
					t.Errorf("defaults: %+v", c)
				}
			}},
		{name: "issuer wins, https not insecure", env: map[string]string{"TOKENWARDEN_ISSUER": "https://sso.example.com/realms/a", "KEYCLOAK_URL": "x", "KEYCLOAK_REALM": "y"},
			check: func(t *testing.T, c app.Config) {
				if c.Issuer != "https://sso.example.com/realms/a" || c.InsecureAllowHTTP {
					t.Errorf("%+v", c)
				}
			}},
		{name: "remote http issuer stays refused", env: map[string]string{"TOKENWARDEN_ISSUER": "http://sso.example.com/realms/a"},
			check: func(t *testing.T, c app.Config) {
				if c.InsecureAllowHTTP {
					t.Error("http on a remote host allowed without TOKENWARDEN_INSECURE_HTTP")
				}
			}},
		{name: "secret file", env: map[string]string{"TOKENWARDEN_ISSUER": "https://i", "TOKENWARDEN_CLIENT_SECRET_FILE": secretFile},
			check: func(t *testing.T, c app.Config) {
				if c.ClientSecret != "s3cret" {
					t.Errorf("secret not read from the file")
				}
			}},
		{name: "policy duration", env: map[string]string{"TOKENWARDEN_ISSUER": "https://i", "TOKENWARDEN_INTROSPECT": "2m"},
			check: func(t *testing.T, c app.Config) {
				if c.Introspect != "2m" {
					t.Errorf("%+v", c)
				}
			}},
		{name: "cors list", env: map[string]string{"TOKENWARDEN_ISSUER": "https://i", "TOKENWARDEN_CORS_ORIGINS": " https://a , capacitor://localhost"},
			check: func(t *testing.T, c app.Config) {
				if strings.Join(c.CORSOrigins, " ") != "https://a capacitor://localhost" {
					t.Errorf("%q", c.CORSOrigins)
				}
			}},
		{name: "dpop", env: map[string]string{"TOKENWARDEN_ISSUER": "https://i", "TOKENWARDEN_DPOP": "Require",
			"TOKENWARDEN_PUBLIC_URL": "https://api.example.com", "TOKENWARDEN_DPOP_NONCE_SECRET_FILE": secretFile},
			check: func(t *testing.T, c app.Config) {
				if c.DPoP != app.DPoPRequire || c.PublicURL != "https://api.example.com" || c.DPoPClientID != "mobile-dpop" ||
					string(c.DPoPNonceSecret) != "s3cret\n" {
					t.Errorf("%+v", c)
				}
			}},
		{name: "no issuer", env: map[string]string{"KEYCLOAK_URL": "http://x"}, wantErr: true},
		{name: "bad dpop policy", env: map[string]string{"TOKENWARDEN_ISSUER": "https://i", "TOKENWARDEN_DPOP": "sometimes"}, wantErr: true},
		{name: "both secrets", env: map[string]string{"TOKENWARDEN_ISSUER": "https://i", "TOKENWARDEN_CLIENT_SECRET": "a", "TOKENWARDEN_CLIENT_SECRET_FILE": secretFile}, wantErr: true},
		{name: "missing secret file", env: map[string]string{"TOKENWARDEN_ISSUER": "https://i", "TOKENWARDEN_CLIENT_SECRET_FILE": secretFile + ".none"}, wantErr: true},
		{name: "bad policy", env: map[string]string{"TOKENWARDEN_ISSUER": "https://i", "TOKENWARDEN_INTROSPECT": "sometimes"}, wantErr: true},
		{name: "bad insecure flag", env: map[string]string{"TOKENWARDEN_ISSUER": "https://i", "TOKENWARDEN_INSECURE_HTTP": "yes"}, wantErr: true},
		{name: "bad log level", env: map[string]string{"TOKENWARDEN_ISSUER": "https://i", "TOKENWARDEN_LOG_LEVEL": "loud"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := app.ConfigFromEnv(env(tt.env))
			if tt.wantErr {
				if !errors.Is(err, app.ErrConfig) {
					t.Fatalf("err = %v, want ErrConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

type client struct {
	t   *testing.T
	url string
}

func (c client) do(method, path, token string, form url.Values, hdr map[string]string) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.url+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestAgainstKeycloak runs the backend against the real Keycloak: roles,
// the admin guard, logout, health, metrics and CORS.
func TestAgainstKeycloak(t *testing.T) {
	kc := keycloaktest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := app.New(ctx, app.Config{Issuer: kc.IssuerURL(), ClientSecret: keycloaktest.BackendClientSecret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	c := client{t: t, url: srv.URL}

	alice := kc.PasswordToken(t, keycloaktest.MobileClientID, "", "alice", "alice-password")
	bob := kc.PasswordToken(t, keycloaktest.MobileClientID, "", "bob", "bob-password")

	routes := []struct {
		name, path, token string
		want              int
		wantAuth          string // substring of WWW-Authenticate
	}{
		{"profile alice", app.RouteProfile, alice.AccessToken, 200, ""},
		{"profile without token", app.RouteProfile, "", 401, `Bearer realm="tokenwarden"`},
		{"profile garbage token", app.RouteProfile, "abc.def.ghi", 401, `error="invalid_token"`},
		{"admin report alice", app.RouteAdminReport, alice.AccessToken, 403, `error="insufficient_scope"`},
		{"admin report bob", app.RouteAdminReport, bob.AccessToken, 200, ""},
	}
	for _, tt := range routes {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := c.do(http.MethodGet, tt.path, tt.token, nil, nil)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, tt.wantAuth) || (tt.wantAuth == "") != (got == "") {
				t.Errorf("WWW-Authenticate %q, want it to contain %q", got, tt.wantAuth)
			}
		})
	}

	_, body := c.do(http.MethodGet, app.RouteProfile, bob.AccessToken, nil, nil)
	var p app.Profile
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	if p.Username != "bob" || p.Subject != bob.Subject || !contains(p.RealmRoles, "admin") || !contains(p.ClientRoles["backend"], "writer") {
		t.Errorf("bob's profile: %+v", p)
	}

	// Logout: 204, then the old access token is refused with RFC 6750's
	// header, and the refresh token no longer works at Keycloak.
	resp, body := c.do(http.MethodPost, app.RouteLogout, alice.AccessToken, url.Values{"refresh_token": {alice.RefreshToken}}, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	resp, _ = c.do(http.MethodGet, app.RouteProfile, alice.AccessToken, nil, nil)
	if got := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || !strings.HasPrefix(got, `Bearer realm="tokenwarden", error="invalid_token"`) {
		t.Errorf("after logout: %d %q", resp.StatusCode, got)
	}
	refresh, err := http.PostForm(kc.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "client_id": {keycloaktest.MobileClientID},
		"refresh_token": {alice.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	refresh.Body.Close()
	if refresh.StatusCode != http.StatusBadRequest {
		t.Errorf("refresh after logout: %d, want 400", refresh.StatusCode)
	}
	// Bob is untouched.
	if resp, _ := c.do(http.MethodGet, app.RouteProfile, bob.AccessToken, nil, nil); resp.StatusCode != 200 {
		t.Errorf("bob after alice's logout: %d", resp.StatusCode)
	}

	resp, body = c.do(http.MethodGet, app.RouteHealth, "", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("healthz: %d %s", resp.StatusCode, body)
	}
	resp, body = c.do(http.MethodGet, app.RouteMetrics, "", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `tokenwarden_`) || strings.Contains(body, alice.AccessToken[:40]) {
		t.Errorf("metrics: %d", resp.StatusCode)
	}

	cors := []struct {
		origin    string
		wantAllow string
	}{
		{"capacitor://localhost", "capacitor://localhost"},
		{"https://localhost", "https://localhost"},
		{"https://evil.example", ""},
	}
	for _, tt := range cors {
		resp, _ := c.do(http.MethodOptions, app.RouteProfile, "", nil, map[string]string{"Origin": tt.origin,
			"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.wantAllow {
			t.Errorf("preflight from %s: Allow-Origin %q, want %q", tt.origin, got, tt.wantAllow)
		}
		if tt.wantAllow != "" && (resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization")) {
			t.Errorf("preflight from %s: %d %v", tt.origin, resp.StatusCode, resp.Header)
		}
	}
	resp, _ = c.do(http.MethodGet, app.RouteProfile, "", nil, map[string]string{"Origin": "capacitor://localhost"})
	if !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("a 401 to the WebView must expose WWW-Authenticate: %v", resp.Header)
	}
}

// TestDPoPAgainstKeycloak: a token Keycloak bound to the app's key (a
// token request with a DPoP proof) passes with its proof, also through
// logout; the same token as Bearer is refused; the WebView may send the
// DPoP header and read DPoP-Nonce and WWW-Authenticate; with DPoP
// required, a Bearer token is refused with a DPoP challenge alone, and
// with a nonce secret the first proof is answered use_dpop_nonce.
func TestDPoPAgainstKeycloak(t *testing.T) {
	kc := keycloaktest.New(t)
	start := func(t *testing.T, cfg app.Config) client {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cfg.Issuer, cfg.ClientSecret = kc.IssuerURL(), keycloaktest.BackendClientSecret
		a, err := app.New(ctx, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(srv.Close)
		return client{t: t, url: srv.URL}
	}
	key, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	// Keycloak binds the tokens of any client to the key of a request's proof.
	tok := kc.PasswordTokenDPoP(t, key, keycloaktest.MobileClientID, "", "alice", "alice-password")
	if tok.TokenType != "DPoP" {
		t.Fatalf("token_type %q", tok.TokenType)
	}
	withProof := func(c client, method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
		proof, err := key.Proof(method, c.url+path, tok.AccessToken, "")
		if err != nil {
			t.Fatal(err)
		}
		h := map[string]string{"DPoP": proof, "Authorization": "DPoP " + tok.AccessToken}
		for k, v := range hdr {
			h[k] = v
		}
		return c.do(method, path, "", form, h)
	}

	c := start(t, app.Config{})
	if resp, body := withProof(c, http.MethodGet, app.RouteProfile, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("DPoP: %d %s %v", resp.StatusCode, body, resp.Header.Values("WWW-Authenticate"))
	}
	resp, body := c.do(http.MethodGet, app.RouteProfile, tok.AccessToken, nil, map[string]string{"Origin": "capacitor://localhost"})
	if resp.StatusCode != 401 || !strings.Contains(body, "invalid_token") ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "DPoP-Nonce") {
		t.Fatalf("as Bearer: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	resp, _ = c.do(http.MethodOptions, app.RouteProfile, "", nil, map[string]string{"Origin": "https://localhost",
		"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization, dpop"})
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "DPoP") {
		t.Fatalf("preflight with the DPoP header: %d %v", resp.StatusCode, resp.Header)
	}

	// Required: Bearer is refused with a DPoP challenge alone.
	req := start(t, app.Config{DPoP: app.DPoPRequire})
	bob := kc.PasswordToken(t, keycloaktest.MobileClientID, "", "bob", "bob-password")
	resp, _ = req.do(http.MethodGet, app.RouteProfile, bob.AccessToken, nil, nil)
	if ch := resp.Header.Values("WWW-Authenticate"); resp.StatusCode != 401 || len(ch) != 1 || !strings.HasPrefix(ch[0], `DPoP realm="tokenwarden", error="invalid_token"`) {
		t.Fatalf("Bearer where DPoP is required: %d %q", resp.StatusCode, ch)
	}
	if resp, _ := withProof(req, http.MethodGet, app.RouteProfile, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("DPoP where required: %d", resp.StatusCode)
	}

	// Nonces: the first proof is refused with the nonce to use.
	nc := start(t, app.Config{DPoPNonceSecret: []byte(strings.Repeat("n", 32))})
	resp, _ = withProof(nc, http.MethodGet, app.RouteProfile, nil, map[string]string{"Origin": "capacitor://localhost"})
	if resp.StatusCode != 401 || resp.Header.Get("DPoP-Nonce") == "" ||
		!strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), " "), `error="use_dpop_nonce"`) {
		t.Fatalf("without the nonce: %d %v", resp.StatusCode, resp.Header)
	}

	// Logout with the proof: 204, then the token is refused.
	if resp, body := withProof(c, http.MethodPost, app.RouteLogout, url.Values{"refresh_token": {tok.RefreshToken}}, nil); resp.StatusCode != 204 {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	if resp, _ := withProof(c, http.MethodGet, app.RouteProfile, nil, nil); resp.StatusCode != 401 {
		t.Fatalf("after logout: %d", resp.StatusCode)
	}
}

// TestRunGracefulShutdown starts Run as main does, waits for it to listen,
// then cancels its context: Run must return nil after draining.
func TestRunGracefulShutdown(t *testing.T) {
	kc := keycloaktest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, env(map[string]string{"TOKENWARDEN_ISSUER": kc.IssuerURL(), "TOKENWARDEN_LISTEN": "127.0.0.1:0"}), pw)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var addr string
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if rec["msg"] == "listening" {
			addr, _ = rec["addr"].(string)
			break
		}
	}
	if addr == "" {
		t.Fatalf("no listening line: %v", <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	resp, err := http.Get("http://" + addr + app.RouteHealth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if _, err := http.Get("http://" + addr + app.RouteHealth); err == nil {
		t.Error("still serving after shutdown")
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestDegradedStore: with Redis unreachable the deny-list is degraded;
// /healthz says so, and requests are still served, each confirmed by
// introspection at Keycloak.
func TestDegradedStore(t *testing.T) {
	kc := keycloaktest.New(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	redisURL := "redis://" + dead.Listener.Addr().String() + "/0"
	dead.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := app.New(ctx, app.Config{Issuer: kc.IssuerURL(), ClientSecret: keycloaktest.BackendClientSecret, RedisURL: redisURL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	c := client{t: t, url: srv.URL}

	resp, body := c.do(http.MethodGet, app.RouteHealth, "", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"status":"degraded"`) || !strings.Contains(body, `"degraded":true`) {
		t.Errorf("healthz with Redis down: %d %s", resp.StatusCode, body)
	}
	bob := kc.PasswordToken(t, keycloaktest.MobileClientID, "", "bob", "bob-password")
	if resp, body := c.do(http.MethodGet, app.RouteProfile, bob.AccessToken, nil, nil); resp.StatusCode != 200 {
		t.Errorf("profile while degraded: %d %s", resp.StatusCode, body)
	}
	_, metrics := c.do(http.MethodGet, app.RouteMetrics, "", nil, nil)
	if !strings.Contains(metrics, `result="active"`) {
		t.Errorf("no active introspection counted while degraded")
	}
}

// TestReplicasShareRedis: two replicas on one Redis deny-list; a logout
// through one is refused by the other.
func TestReplicasShareRedis(t *testing.T) {
	kc := keycloaktest.New(t)
	redisURL := testenv.Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("capbackend-%d", time.Now().UnixNano())
	var urls []string
	for range 2 {
		a, err := app.New(ctx, app.Config{Issuer: kc.IssuerURL(), RedisURL: redisURL, RedisKeyPrefix: prefix}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		srv := httptest.NewServer(a.Handler())
		defer srv.Close()
		urls = append(urls, srv.URL)
	}
	one, two := client{t: t, url: urls[0]}, client{t: t, url: urls[1]}
	alice := kc.PasswordToken(t, keycloaktest.MobileClientID, "", "alice", "alice-password")
	for i, c := range []client{one, two} {
		if resp, body := c.do(http.MethodGet, app.RouteProfile, alice.AccessToken, nil, nil); resp.StatusCode != 200 {
			t.Fatalf("replica %d before logout: %d %s", i+1, resp.StatusCode, body)
		}
	}
	if resp, body := one.do(http.MethodPost, app.RouteLogout, alice.AccessToken, url.Values{"refresh_token": {alice.RefreshToken}}, nil); resp.StatusCode != 204 {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	// The second replica learns it from the Redis stream; wait for it
	// without asserting a duration.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, _ := two.do(http.MethodGet, app.RouteProfile, alice.AccessToken, nil, nil)
		if resp.StatusCode == http.StatusUnauthorized {
			break
		}
		if resp.StatusCode != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("replica 2 after logout on replica 1: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKeycloakAdminURL: Keycloak's "push revocation" reaches the backend's
// admin URL (/auth/keycloak/k_push_not_before) and every earlier token of
// the realm is refused. In a realm of its own: the push is realm-wide.
func TestKeycloakAdminURL(t *testing.T) {
	kc := keycloaktest.New(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	apiURL := "http://" + l.Addr().String()
	realm := kc.IsolatedRealm(t, apiURL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := app.New(ctx, app.Config{Issuer: realm.IssuerURL()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := &http.Server{Handler: a.Handler()}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	c := client{t: t, url: apiURL}

	bob := realm.PasswordToken(t, keycloaktest.MobileClientID, "", "bob", "bob-password")
	if resp, body := c.do(http.MethodGet, app.RouteProfile, bob.AccessToken, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("before the push: %d %s", resp.StatusCode, body)
	}
	var claims struct {
		IAT int64 `json:"iat"`
	}
	if err := keycloaktest.UnverifiedClaims(bob.AccessToken, &claims); err != nil {
		t.Fatal(err)
	}
	// Not-before is compared in whole seconds with iat < notBefore: let
	// the second of iat pass.
	for time.Now().Unix() <= claims.IAT {
		time.Sleep(50 * time.Millisecond)
	}
	realm.SetNotBeforeNow(t)
	res := realm.PushRevocation(t)
	if len(res.SuccessRequests) == 0 {
		t.Fatalf("Keycloak reached no admin URL: %+v", res)
	}
	resp, _ := c.do(http.MethodGet, app.RouteProfile, bob.AccessToken, nil, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after the not-before push: %d, want 401", resp.StatusCode)
	}
}
