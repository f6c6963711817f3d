package adapter_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// TestMain stops a Keycloak that keycloaktest had to start for these tests.
func TestMain(m *testing.M) { keycloaktest.Main(m) }

// replica is one API instance: its own key set, verifier, introspection
// cache and Redis store (with its own local mirror), sharing Redis with the
// others.
type replica struct {
	name     string
	kcVia    string // when set, the base URL through which Keycloak is reached
	srv      *httptest.Server
	mux      *http.ServeMux
	auth     *adapter.Authenticator
	store    *revocation.Redis
	fetches  atomic.Int64 // JWKS fetches
	upstream atomic.Int64 // introspection requests that reached Keycloak
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func newServer(t *testing.T) (*httptest.Server, *http.ServeMux) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, mux
}

// countingTransport counts the requests that reach Keycloak's JWKS and
// introspection endpoints.
type countingTransport struct{ r *replica }

func (c countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case strings.HasSuffix(req.URL.Path, "/certs"):
		c.r.fetches.Add(1)
	case strings.HasSuffix(req.URL.Path, "/token/introspect"):
		c.r.upstream.Add(1)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// start wires the replica's pipeline and handlers onto its mux, against the
// realm kc and the Redis at redisURL under prefix. adapter.New builds
// everything but the store from the realm's discovery document, as the
// quick start does.
func (r *replica) start(t *testing.T, kc *keycloaktest.Keycloak, redisURL, prefix string) {
	t.Helper()
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, 2*time.Second, time.Second
	rc := redis.NewClient(opts)
	t.Cleanup(func() { rc.Close() })
	store, err := revocation.NewRedis(revocation.RedisConfig{Client: rc, KeyPrefix: prefix,
		Config: revocation.Config{MaxTokenLifetime: 10 * time.Minute}, BlockTimeout: 200 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := store.WaitHealthy(ctx); err != nil {
		t.Fatalf("%s: store not healthy: %v", r.name, err)
	}
	r.store = store

	auth, err := adapter.New(ctx, adapter.Config{
		Issuer:            kc.IssuerURL(),
		InternalURL:       r.kcVia,
		Audience:          keycloaktest.BackendClientID,
		Clients:           []string{keycloaktest.MobileClientID, keycloaktest.DPoPClientID},
		ClientSecret:      keycloaktest.BackendClientSecret,
		HTTPClient:        &http.Client{Transport: countingTransport{r}, Timeout: 10 * time.Second},
		InsecureAllowHTTP: true,
		Store:             store,
		Require:           []adapter.Requirement{adapter.RequireClientRole(keycloaktest.BackendClientID, "reader")},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	r.auth = auth
	hello := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, _ := adapter.FromContext(req.Context())
		fmt.Fprintf(w, "%s realm=%s backend=%s", c.Subject, strings.Join(c.RealmRoles, ","),
			strings.Join(c.ClientRoles[keycloaktest.BackendClientID], ","))
	})
	r.mux.Handle("GET /api/orders", auth.Middleware(hello))
	r.mux.Handle("GET /api/strict", auth.Introspected(hello))
	r.mux.Handle("POST /auth/logout", auth.LogoutHandler())
	r.mux.Handle("POST /auth/backchannel-logout", auth.BackchannelLogoutHandler())
	r.mux.Handle("/auth/keycloak/", auth.KeycloakAdminHandler())
}

func (r *replica) get(t *testing.T, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

// eventually polls cond until it holds or 15 s have passed: replicas learn
// revocations through Redis asynchronously.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func expectStatus(t *testing.T, r *replica, path, token string, want int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s %s answers %d", r.name, path, want), func() bool {
		got, _ := r.get(t, path, token)
		return got == want
	})
}

// refreshStatus uses a refresh token at Keycloak and returns the status.
func refreshStatus(t *testing.T, kc *keycloaktest.Keycloak, refresh string) int {
	t.Helper()
	resp, err := kc.HTTPClient.PostForm(kc.TokenURL(), url.Values{"grant_type": {"refresh_token"},
		"client_id": {keycloaktest.MobileClientID}, "refresh_token": {refresh}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// twoReplicas starts replicas A and B sharing the Redis store under a
// fresh key prefix, against a realm of their own whose logout
// notifications reach A.
func twoReplicas(t *testing.T, prefix string) (*keycloaktest.Keycloak, *replica, *replica) {
	t.Helper()
	kc := keycloaktest.New(t)
	redisURL := testenv.Redis(t)
	a, b := &replica{name: "A"}, &replica{name: "B"}
	a.srv, a.mux = newServer(t)
	b.srv, b.mux = newServer(t)
	realm := kc.IsolatedRealm(t, a.srv.URL)
	p := randomName(prefix)
	a.start(t, realm, redisURL, p)
	b.start(t, realm, redisURL, p)
	return realm, a, b
}

// TestKeycloakTwoReplicas runs two API replicas sharing one Redis deny-list
// against a real Keycloak realm whose logout notifications reach replica A.
func TestKeycloakTwoReplicas(t *testing.T) {
	realm, a, b := twoReplicas(t, "tw-adapter-test-")
	both := []*replica{a, b}

	newUser := func(t *testing.T) keycloaktest.User {
		_, u := realm.CreateUser(t, keycloaktest.User{RealmRoles: []string{"user"},
			ClientRoles: map[string][]string{keycloaktest.BackendClientID: {"reader"}}})
		return u
	}
	password := func(t *testing.T, u keycloaktest.User) keycloaktest.Tokens {
		return realm.PasswordToken(t, keycloaktest.MobileClientID, "", u.Username, u.Password)
	}

	t.Run("a mobile token is accepted with roles in context", func(t *testing.T) {
		u := newUser(t)
		tok := realm.LoginPKCE(t, u.Username, u.Password)
		for _, r := range both {
			status, body := r.get(t, "/api/orders", tok.AccessToken)
			if status != http.StatusOK || !strings.Contains(body, "realm=") || !strings.Contains(body, "backend=reader") ||
				!strings.HasPrefix(body, tok.Subject+" ") || !strings.Contains(body, "user") {
				t.Fatalf("%s: %d %q", r.name, status, body)
			}
		}
		if s, _ := a.get(t, "/api/orders", tok.AccessToken+"x"); s != http.StatusUnauthorized {
			t.Fatalf("tampered token: %d", s)
		}
	})

	t.Run("logout handler on A refuses the token on A and B and kills the refresh token", func(t *testing.T) {
		u := newUser(t)
		tok := password(t, u)
		expectStatus(t, b, "/api/orders", tok.AccessToken, http.StatusOK) // cached on B
		req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/auth/logout",
			strings.NewReader(url.Values{"refresh_token": {tok.RefreshToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := a.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		if s, _ := a.get(t, "/api/orders", tok.AccessToken); s != http.StatusUnauthorized {
			t.Fatalf("A after logout: %d", s)
		}
		expectStatus(t, b, "/api/orders", tok.AccessToken, http.StatusUnauthorized)
		if s := refreshStatus(t, realm, tok.RefreshToken); s != http.StatusBadRequest {
			t.Fatalf("refresh after logout: %d, want 400", s)
		}
	})

	t.Run("admin logout of a user reaches A by back-channel and refuses every token on A and B", func(t *testing.T) {
		u := newUser(t)
		t1, t2 := password(t, u), password(t, u)
		other := password(t, newUser(t))
		for _, r := range both {
			for _, tok := range []string{t1.AccessToken, t2.AccessToken} {
				if s, _ := r.get(t, "/api/orders", tok); s != http.StatusOK {
					t.Fatalf("%s before logout: %d", r.name, s)
				}
			}
		}
		realm.LogoutUser(t, u.Username) // Keycloak POSTs one logout token per session to A
		for _, tok := range []string{t1.AccessToken, t2.AccessToken} {
			if s, _ := a.get(t, "/api/orders", tok); s != http.StatusUnauthorized {
				t.Fatalf("A after back-channel logout: %d", s)
			}
			expectStatus(t, b, "/api/orders", tok, http.StatusUnauthorized)
		}
		for _, r := range both {
			if s, _ := r.get(t, "/api/orders", other.AccessToken); s != http.StatusOK {
				t.Fatalf("%s: another user's token refused: %d", r.name, s)
			}
		}
	})

	t.Run("app revokes its refresh token at Keycloak: introspected route refuses, plain route accepts", func(t *testing.T) {
		u := newUser(t)
		tok := password(t, u)
		resp, err := realm.HTTPClient.PostForm(realm.IssuerURL()+"/protocol/openid-connect/revoke",
			url.Values{"token": {tok.RefreshToken}, "client_id": {keycloaktest.MobileClientID}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: %d", resp.StatusCode)
		}
		// Documented trade-off: without introspection the signature is all
		// this API can see until the token expires (Keycloak sends no
		// notification on revocation)...
		if s, _ := b.get(t, "/api/orders", tok.AccessToken); s != http.StatusOK {
			t.Fatalf("plain route: %d, want 200", s)
		}
		// ...the introspected route asks Keycloak, which answers inactive,
		// and the jti is deny-listed for every route of every replica.
		if s, _ := a.get(t, "/api/strict", tok.AccessToken); s != http.StatusUnauthorized {
			t.Fatalf("introspected route: %d, want 401", s)
		}
		if s, _ := a.get(t, "/api/orders", tok.AccessToken); s != http.StatusUnauthorized {
			t.Fatalf("plain route on A after the inactive answer: %d", s)
		}
		expectStatus(t, b, "/api/orders", tok.AccessToken, http.StatusUnauthorized)
	})

	t.Run("realm keys rotated: new tokens accepted after one JWKS fetch", func(t *testing.T) {
		u := newUser(t)
		old := password(t, u)
		for _, r := range both {
			expectStatus(t, r, "/api/orders", old.AccessToken, http.StatusOK)
		}
		fa, fb := a.fetches.Load(), b.fetches.Load()
		kid := realm.RotateKeys(t)
		tok := password(t, u)
		var hdr struct {
			Kid string `json:"kid"`
		}
		if err := unverifiedHeader(tok.AccessToken, &hdr); err != nil || hdr.Kid != kid {
			t.Fatalf("new token kid %q, want %q (%v)", hdr.Kid, kid, err)
		}
		for _, r := range both {
			if s, body := r.get(t, "/api/orders", tok.AccessToken); s != http.StatusOK {
				t.Fatalf("%s: new-key token: %d %s", r.name, s, body)
			}
			if s, _ := r.get(t, "/api/orders", old.AccessToken); s != http.StatusOK {
				t.Fatalf("%s: old-key token: %d", r.name, s)
			}
		}
		if da, db := a.fetches.Load()-fa, b.fetches.Load()-fb; da != 1 || db != 1 {
			t.Fatalf("JWKS fetches after rotation: A %d, B %d; want 1 each", da, db)
		}
	})

	t.Run("push revocation to the backend admin URL refuses older tokens, accepts newer", func(t *testing.T) {
		u := newUser(t)
		old := password(t, u)
		for _, r := range both {
			expectStatus(t, r, "/api/orders", old.AccessToken, http.StatusOK)
		}
		time.Sleep(1100 * time.Millisecond) // iat and notBefore have second precision
		realm.SetNotBeforeNow(t)
		res := realm.PushRevocation(t)
		if !slices.ContainsFunc(res.SuccessRequests, func(s string) bool { return strings.HasPrefix(s, a.srv.URL) }) ||
			len(res.FailedRequests) != 0 {
			t.Fatalf("push-revocation result %+v", res)
		}
		if s, _ := a.get(t, "/api/orders", old.AccessToken); s != http.StatusUnauthorized {
			t.Fatalf("A: old token after push: %d", s)
		}
		expectStatus(t, b, "/api/orders", old.AccessToken, http.StatusUnauthorized)
		fresh := password(t, u)
		for _, r := range both {
			if s, _ := r.get(t, "/api/orders", fresh.AccessToken); s != http.StatusOK {
				t.Fatalf("%s: token issued after the push: %d", r.name, s)
			}
		}
	})

	t.Run("sign out all sessions sends k_logout to the backend admin URL: older tokens refused on A and B", func(t *testing.T) {
		u := newUser(t)
		old := password(t, u)
		for _, r := range both {
			expectStatus(t, r, "/api/orders", old.AccessToken, http.StatusOK)
		}
		time.Sleep(1100 * time.Millisecond) // iat and notBefore have second precision
		res := realm.LogoutAll(t)
		if !slices.ContainsFunc(res.SuccessRequests, func(s string) bool { return strings.HasPrefix(s, a.srv.URL) }) ||
			len(res.FailedRequests) != 0 {
			t.Fatalf("logout-all result %+v", res)
		}
		if s, _ := a.get(t, "/api/orders", old.AccessToken); s != http.StatusUnauthorized {
			t.Fatalf("A: old token after k_logout: %d", s)
		}
		expectStatus(t, b, "/api/orders", old.AccessToken, http.StatusUnauthorized)
		fresh := password(t, u)
		for _, r := range both {
			if s, _ := r.get(t, "/api/orders", fresh.AccessToken); s != http.StatusOK {
				t.Fatalf("%s: token issued after k_logout: %d", r.name, s)
			}
		}
	})
}

func unverifiedHeader(token string, v any) error {
	h, _, ok := strings.Cut(token, ".")
	if !ok {
		return fmt.Errorf("not a JWS")
	}
	return keycloaktest.UnverifiedClaims(h+"."+h+".x", v)
}

// privateRedis runs a redis-server of this test's own on a free port, so the
// test can stop and restart it.
type privateRedis struct {
	bin  string
	port int
	cmd  *exec.Cmd
}

func (p *privateRedis) start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command(p.bin, "--port", strconv.Itoa(p.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "redis-server listens", func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p.port), 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func (p *privateRedis) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		p.cmd = nil
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestKeycloakRedisOutage: with Redis stopped the replica's store is
// degraded and every request is introspected (a token revoked at Keycloak is
// refused even on a plain route); once Redis is back it recovers and stops
// introspecting.
func TestKeycloakRedisOutage(t *testing.T) {
	kc := keycloaktest.New(t)
	rd := &privateRedis{bin: testenv.RedisServerBin(t), port: freePort(t)}
	rd.start(t)
	t.Cleanup(rd.stop)

	r := &replica{name: "C"}
	r.srv, r.mux = newServer(t)
	realm := kc.IsolatedRealm(t, r.srv.URL)
	r.start(t, realm, "redis://127.0.0.1:"+strconv.Itoa(rd.port)+"/0", randomName("tw-adapter-outage-"))

	_, u := realm.CreateUser(t, keycloaktest.User{RealmRoles: []string{"user"},
		ClientRoles: map[string][]string{keycloaktest.BackendClientID: {"reader"}}})
	good := realm.PasswordToken(t, keycloaktest.MobileClientID, "", u.Username, u.Password)
	revoked := realm.PasswordToken(t, keycloaktest.MobileClientID, "", u.Username, u.Password)

	before := r.upstream.Load()
	for _, tok := range []string{good.AccessToken, revoked.AccessToken} {
		if s, _ := r.get(t, "/api/orders", tok); s != http.StatusOK {
			t.Fatalf("healthy: %d", s)
		}
	}
	if n := r.upstream.Load() - before; n != 0 {
		t.Fatalf("healthy store: %d introspections, want 0", n)
	}
	// Revoked at Keycloak only: the healthy replica cannot know.
	resp, err := realm.HTTPClient.PostForm(realm.IssuerURL()+"/protocol/openid-connect/revoke",
		url.Values{"token": {revoked.AccessToken}, "client_id": {keycloaktest.MobileClientID}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	rd.stop()
	eventually(t, "store degraded", r.store.Degraded)
	before = r.upstream.Load()
	if s, body := r.get(t, "/api/orders", good.AccessToken); s != http.StatusOK {
		t.Fatalf("degraded, valid token: %d %s", s, body)
	}
	if s, _ := r.get(t, "/api/orders", revoked.AccessToken); s != http.StatusUnauthorized {
		t.Fatalf("degraded, token revoked at Keycloak: %d, want 401", s)
	}
	if n := r.upstream.Load() - before; n != 2 {
		t.Fatalf("degraded: %d introspections, want 2", n)
	}

	rd.start(t)
	eventually(t, "store recovered", func() bool { return !r.store.Degraded() })
	fresh := realm.PasswordToken(t, keycloaktest.MobileClientID, "", u.Username, u.Password)
	before = r.upstream.Load()
	if s, _ := r.get(t, "/api/orders", fresh.AccessToken); s != http.StatusOK {
		t.Fatalf("recovered: %d", s)
	}
	if n := r.upstream.Load() - before; n != 0 {
		t.Fatalf("recovered store: %d introspections, want 0", n)
	}
}

// TestKeycloakUnreachable: Keycloak is reached through a proxy that the test
// then stops (connections refused, as when Keycloak is down). Local
// verification carries on with the cached keys; a route that must
// introspect answers 503 with Retry-After, never 401.
func TestKeycloakUnreachable(t *testing.T) {
	kc := keycloaktest.New(t)
	target, err := url.Parse(kc.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	// SetURL also rewrites Host: Keycloak derives the issuer it accepts
	// from the Host it is called on.
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }})
	t.Cleanup(proxy.Close)

	r := &replica{name: "D", kcVia: proxy.URL}
	r.srv, r.mux = newServer(t)
	realm := kc.IsolatedRealm(t, r.srv.URL)
	r.start(t, realm, testenv.Redis(t), randomName("tw-adapter-kcdown-"))
	_, u := realm.CreateUser(t, keycloaktest.User{RealmRoles: []string{"user"},
		ClientRoles: map[string][]string{keycloaktest.BackendClientID: {"reader"}}})
	tok := realm.PasswordToken(t, keycloaktest.MobileClientID, "", u.Username, u.Password)
	other := realm.PasswordToken(t, keycloaktest.MobileClientID, "", u.Username, u.Password)
	if s, _ := r.get(t, "/api/orders", tok.AccessToken); s != http.StatusOK {
		t.Fatalf("up: %d", s)
	}
	if s, _ := r.get(t, "/api/strict", tok.AccessToken); s != http.StatusOK {
		t.Fatalf("up, introspected: %d", s)
	}

	proxy.Close() // Keycloak is now unreachable from the replica
	for _, token := range []string{tok.AccessToken, other.AccessToken} {
		if s, body := r.get(t, "/api/orders", token); s != http.StatusOK {
			t.Fatalf("down, local verification: %d %s", s, body)
		}
	}
	// other was never introspected: no cached answer to fall back on.
	req, _ := http.NewRequest(http.MethodGet, r.srv.URL+"/api/strict", nil)
	req.Header.Set("Authorization", "Bearer "+other.AccessToken)
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("down, introspected route: %d Retry-After=%q WWW-Authenticate=%q", resp.StatusCode,
			resp.Header.Get("Retry-After"), resp.Header.Get("WWW-Authenticate"))
	}
}
