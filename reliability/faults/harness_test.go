package faults_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/tokenwarden/tokenwarden/adapter"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// upstreamTimeout bounds every call the library makes to Keycloak in these
// tests (JWKS fetch, introspection, revocation), so that an injected
// latency or a silent connection turns into an outage quickly.
const upstreamTimeout = time.Second

// keycloak returns the running Keycloak of `make services`: the test is
// skipped without it, or fails under CI=true (testenv), and never starts
// one of its own.
func keycloak(t *testing.T) *keycloaktest.Keycloak {
	t.Helper()
	testenv.Keycloak(t)
	return keycloaktest.New(t)
}

// scenario runs f as a subtest and then checks that nothing it started is
// still running: every goroutine that did not exist before the subtest
// (toxiproxy links, key-set refreshers, store followers, HTTP connections)
// must be gone once its cleanups have run.
func scenario(t *testing.T, kc *keycloaktest.Keycloak, name string, f func(t *testing.T)) {
	t.Helper()
	closeIdle(kc)
	before := goleak.IgnoreCurrent()
	if !t.Run(name, f) {
		return
	}
	closeIdle(kc)
	// A toxic whose link was torn down while it held data can stay blocked
	// on its output channel (toxiproxy's own goroutine, not the library's).
	if err := goleak.Find(before, goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/toxics.(*ToxicStub).Run")); err != nil {
		t.Errorf("%s: goroutines left behind: %v", name, err)
	}
}

// closeIdle closes the idle keep-alive connections of the shared Keycloak
// helpers, whose reader goroutines are not the scenario's.
func closeIdle(kc *keycloaktest.Keycloak) {
	if kc == nil {
		return
	}
	kc.HTTPClient.CloseIdleConnections()
	kc.GoCloak().RestyClient().GetClient().CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
}

// eventually polls cond until it holds, for at most 20 s: recovery happens
// on background goroutines (reconnects, refreshes, resynchronisation).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// succeeds retries f until it returns nil, for at most 20 s: for calls to
// a healthy upstream that the 1 s bound of these tests can still cut on a
// loaded machine.
func succeeds(t *testing.T, what string, f func() error) {
	t.Helper()
	var last error
	deadline := time.Now().Add(20 * time.Second)
	for {
		if last = f(); last == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, last)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// proxy is an in-process toxiproxy proxy.
type proxy struct {
	p *toxiproxy.Proxy
}

// newProxy starts a toxiproxy proxy on a free loopback port in front of
// upstream (host:port) and stops it when the test ends.
func newProxy(t *testing.T, name, upstream string) *proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
	t.Cleanup(p.Stop)
	return &proxy{p: p}
}

// Addr is the proxy's listening address.
func (p *proxy) Addr() string {
	p.p.Lock()
	defer p.p.Unlock()
	return p.p.Listen
}

// toxic is one toxiproxy toxic: its type, stream and attributes.
type toxic struct {
	Type       string         `json:"type"`
	Stream     string         `json:"stream,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// add adds the toxics under names name-0, name-1... (chained in order) and
// returns a function that removes them.
func (p *proxy) add(t *testing.T, name string, toxics ...toxic) (remove func()) {
	t.Helper()
	var names []string
	for i, tx := range toxics {
		n := fmt.Sprintf("%s-%d", name, i)
		body, err := json.Marshal(struct {
			Name string `json:"name"`
			toxic
		}{n, tx})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.p.Toxics.AddToxicJson(strings.NewReader(string(body))); err != nil {
			t.Fatalf("toxiproxy: add %s: %v", n, err)
		}
		names = append(names, n)
	}
	return func() {
		for _, n := range names {
			if err := p.p.Toxics.RemoveToxic(context.Background(), n); err != nil {
				t.Errorf("toxiproxy: remove %s: %v", n, err)
			}
		}
	}
}

// down stops the proxy (connections cut, new ones refused) and returns the
// function that starts it again on the same address.
func (p *proxy) down(t *testing.T) (up func()) {
	t.Helper()
	p.p.Stop()
	return func() {
		if err := p.p.Start(); err != nil {
			t.Fatalf("toxiproxy: restart: %v", err)
		}
	}
}

// clientVia returns an HTTP client that reaches target (host:port) through
// addr while keeping target's URLs, so the Host header, and with it the
// issuer Keycloak checks, stay those of the real Keycloak. Its idle
// connections are closed when the test ends.
func clientVia(t *testing.T, target, addr string, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			if a == target {
				a = addr
			}
			return d.DialContext(ctx, network, a)
		},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

// hostPort returns the host:port of a base URL.
func hostPort(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// skewClock is a clock that can be moved forward.
type skewClock struct{ offset atomic.Int64 }

func (c *skewClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *skewClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// api is one API replica mounted on an httptest server: the plain route
// (local verification and the deny-list), the introspected route, and the
// logout handler, with every call to Keycloak made through hc.
type api struct {
	srv      *httptest.Server
	keys     *oidc.RemoteKeySet
	keyClock *skewClock
	auth     *adapter.Authenticator
	store    revocation.Store
	upstream atomic.Int64 // introspection requests sent to Keycloak
}

// newAPI builds the replica against realm. Every call to Keycloak goes
// through hc and is bounded by hc.Timeout. store nil means a Memory store.
func newAPI(t *testing.T, realm *keycloaktest.Keycloak, hc *http.Client, store revocation.Store) *api {
	t.Helper()
	a := &api{keyClock: &skewClock{}}
	oidcURL := realm.IssuerURL() + "/protocol/openid-connect"
	keys, err := oidc.NewRemoteKeySet(oidc.KeySetConfig{URL: oidcURL + "/certs", HTTPClient: hc,
		InsecureAllowHTTP: true, Timeout: hc.Timeout, UnknownKidCooldown: -1,
		StaleIfError: 10 * time.Minute, Now: a.keyClock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	a.keys = keys
	succeeds(t, "first JWKS fetch", func() error { return keys.Refresh(context.Background()) })
	v, err := oidc.NewVerifier(oidc.VerifierConfig{Issuer: realm.IssuerURL(), Keys: keys,
		Audience: []string{keycloaktest.BackendClientID}})
	if err != nil {
		t.Fatal(err)
	}
	backend, err := introspect.New(introspect.Config{IntrospectionURL: oidcURL + "/token/introspect",
		InsecureAllowHTTP: true, HTTPClient: hc,
		ClientID: keycloaktest.BackendClientID, ClientSecret: keycloaktest.BackendClientSecret,
		Issuer: realm.IssuerURL(), Audience: []string{keycloaktest.BackendClientID},
		Observe: func(ev introspect.Event) {
			if ev.Endpoint == introspect.EndpointIntrospection {
				a.upstream.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := introspect.NewCache(backend, introspect.CacheConfig{Timeout: hc.Timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	mobile, err := introspect.New(introspect.Config{RevocationURL: oidcURL + "/revoke", InsecureAllowHTTP: true,
		HTTPClient: hc, ClientID: keycloaktest.MobileClientID, AuthMethod: introspect.AuthNone,
		RevokeMaxAttempts: 2, RevokeMaxRetryWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := adapter.New(context.Background(), adapter.Config{Verifier: v, Store: store, Introspector: cache,
		Revokers: map[string]adapter.Revoker{keycloaktest.MobileClientID: mobile}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	a.auth, a.store = auth, auth.Store()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := adapter.FromContext(r.Context())
		io.WriteString(w, c.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /plain", auth.Middleware(ok))
	mux.Handle("GET /strict", auth.Introspected(ok))
	mux.Handle("POST /logout", auth.LogoutHandler())
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// testLogger sends the adapter's log lines (outages, never a token) to
// the test log, so a failure says why a request was refused.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// answer is what the API replied.
type answer struct {
	status          int
	retryAfter      string
	wwwAuthenticate string
}

func (a answer) String() string {
	return fmt.Sprintf("%d (Retry-After %q, WWW-Authenticate %q)", a.status, a.retryAfter, a.wwwAuthenticate)
}

// unavailable reports whether a is the documented outage answer: 503 with
// Retry-After and no invalid_token challenge.
func (a answer) unavailable() bool {
	return a.status == http.StatusServiceUnavailable && a.retryAfter != "" &&
		!strings.Contains(a.wwwAuthenticate, "invalid_token")
}

func (a *api) do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("WWW-Authenticate")}
}

// get calls a route with a bearer token.
func (a *api) get(t *testing.T, path, token string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return a.do(t, req)
}

// logout calls the logout handler as the app does.
func (a *api) logout(t *testing.T, tok keycloaktest.Tokens) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.srv.URL+"/logout",
		strings.NewReader(url.Values{"refresh_token": {tok.RefreshToken}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return a.do(t, req)
}

// expect fails unless path answers want for token.
func (a *api) expect(t *testing.T, what, path, token string, want int) {
	t.Helper()
	if got := a.get(t, path, token); got.status != want {
		t.Fatalf("%s: %s answered %v, want %d", what, path, got, want)
	}
}

// expectUnavailable fails unless path answers 503 with Retry-After.
func (a *api) expectUnavailable(t *testing.T, what, path, token string) {
	t.Helper()
	if got := a.get(t, path, token); !got.unavailable() {
		t.Fatalf("%s: %s answered %v, want 503 with Retry-After, never 401", what, path, got)
	}
}

// eventuallyStatus polls path until it answers want.
func (a *api) eventuallyStatus(t *testing.T, what, path, token string, want int) {
	t.Helper()
	var last answer
	eventually(t, fmt.Sprintf("%s: %s answers %d", what, path, want), func() bool {
		last = a.get(t, path, token)
		return last.status == want
	})
}

// login is a user of a realm for whom the tests mint tokens with the
// mobile client.
type login struct {
	realm              *keycloaktest.Keycloak
	username, password string
}

// newLogin creates a user in realm (deleted when the test ends), so that
// nothing another test does to its own users touches this one.
func newLogin(t *testing.T, realm *keycloaktest.Keycloak) login {
	t.Helper()
	_, u := realm.CreateUser(t, keycloaktest.User{RealmRoles: []string{"user"},
		ClientRoles: map[string][]string{keycloaktest.BackendClientID: {"reader"}}})
	return login{realm, u.Username, u.Password}
}

// session starts a new session: a password grant (slow: Keycloak hashes
// the password).
func (l login) session(t *testing.T) keycloaktest.Tokens {
	t.Helper()
	return l.realm.PasswordToken(t, keycloaktest.MobileClientID, "", l.username, l.password)
}

// more mints another access token (new jti, same session) from tok's
// refresh token: cheap, and signed with the realm's current key.
func (l login) more(t *testing.T, tok keycloaktest.Tokens) keycloaktest.Tokens {
	t.Helper()
	return l.realm.Refresh(t, keycloaktest.MobileClientID, "", tok.RefreshToken)
}

// kid returns the key id in a token's header.
func kid(t *testing.T, token string) string {
	t.Helper()
	h, _, _ := strings.Cut(token, ".")
	var hdr struct {
		Kid string `json:"kid"`
	}
	if err := keycloaktest.UnverifiedClaims(h+"."+h+".x", &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr.Kid
}

// refreshStatus uses a refresh token at Keycloak (directly) and returns the
// status: 200 while the token is alive, 400 once revoked.
func refreshStatus(t *testing.T, realm *keycloaktest.Keycloak, refresh string) int {
	t.Helper()
	resp, err := realm.HTTPClient.PostForm(realm.TokenURL(), url.Values{"grant_type": {"refresh_token"},
		"client_id": {keycloaktest.MobileClientID}, "refresh_token": {refresh}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
