package capacitorweb_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v13"

	"github.com/tokenwarden/tokenwarden/examples/capacitor-backend/app"
	capacitorweb "github.com/tokenwarden/tokenwarden/examples/capacitor-web"
	"github.com/tokenwarden/tokenwarden/internal/relay"
	"github.com/tokenwarden/tokenwarden/internal/testenv"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// unavailable skips the test, or fails it under CI=true (internal/testenv's
// rule), naming what is missing.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if testenv.CI() {
		t.Fatal(msg + " [CI=true: failing instead of skipping]")
	}
	t.Skip(msg)
}

// chromiumPath finds Chromium: $TOKENWARDEN_CHROMIUM, else on PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TOKENWARDEN_CHROMIUM"); p != "" {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			unavailable(t, "TOKENWARDEN_CHROMIUM=%s is not an executable file", p)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	unavailable(t, "no Chromium on PATH (apt-get install chromium, or set TOKENWARDEN_CHROMIUM; make test installs it)")
	return ""
}

// buildApp bundles the app into a temporary directory with the project's
// pinned packages (npm ci when node_modules is missing) and returns it.
func buildApp(t *testing.T) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		unavailable(t, "npm not found: the web app needs Node.js and npm (make test runs npm ci)")
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(npm, args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("npm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if _, err := os.Stat(filepath.Join("node_modules", ".package-lock.json")); err != nil {
		run("ci", "--no-audit", "--no-fund")
	}
	dir := t.TempDir()
	run("run", "build", "--", "--outdir="+dir)
	return dir
}

// stack is one realm, one API and one web server for a test.
type stack struct {
	realm  *keycloaktest.Keycloak
	apiURL string
	webURL string
	hc     *http.Client
	log    *lockedBuffer // the API's JSON log, shown when the test fails
	kcLink *relay.Relay  // the API's way to Keycloak (its InternalURL); the page reaches Keycloak directly
}

// newStack starts the capacitor backend and the web app on free loopback
// ports, in a copy of the test realm of their own: its back-channel logout
// URL points at this backend (so tests running at the same time on the same
// Keycloak do not receive each other's logouts), the mobile clients (Bearer
// and DPoP) accept this web origin, and refresh tokens are rotated
// (realm-wide in Keycloak 26, hence the realm of its own).
//
// The backend asks for DPoP server nonces (RFC 9449 §9), its strictest
// DPoP setting: the DPoP variant must then handle use_dpop_nonce and keep
// the nonce of each answer, and a proof the page sent still carries a
// nonce the API accepts when it is replayed, so the replay is refused for
// being a replay. Bearer requests are not affected.
func newStack(t *testing.T, kc *keycloaktest.Keycloak, dist string) *stack {
	t.Helper()
	listen := func() (net.Listener, string) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l, "http://" + l.Addr().String()
	}
	apiL, apiURL := listen()
	webL, webURL := listen()
	s := &stack{apiURL: apiURL, webURL: webURL, hc: &http.Client{Timeout: 30 * time.Second}, log: &lockedBuffer{}}

	s.realm = kc.IsolatedRealm(t, apiURL)
	s.realm.AdminRequest(t, http.MethodPut, "", map[string]any{"revokeRefreshToken": true, "refreshTokenMaxReuse": 0}, nil)
	for _, id := range []string{keycloaktest.MobileClientID, keycloaktest.DPoPClientID} {
		s.realm.UpdateClient(t, id, func(c *gocloak.Client) {
			c.RedirectURIs = &[]string{keycloaktest.MobileRedirectURL, webURL + "/"}
			c.WebOrigins = &[]string{webURL}
			attrs := map[string]string{}
			if c.Attributes != nil {
				attrs = *c.Attributes
			}
			attrs["post.logout.redirect.uris"] = webURL + "/"
			c.Attributes = &attrs
		})
	}
	nonceSecret := make([]byte, 32)
	_, _ = rand.Read(nonceSecret)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kcURL, err := url.Parse(kc.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	s.kcLink = relay.New(t, kcURL.Host)
	a, err := app.New(ctx, app.Config{Issuer: s.realm.IssuerURL(), InternalURL: "http://" + s.kcLink.Addr(), CORSOrigins: []string{webURL}, DPoPNonceSecret: nonceSecret},
		slog.New(slog.NewJSONHandler(s.log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	web, err := capacitorweb.Handler(capacitorweb.Config{Dir: dist, KeycloakURL: kc.BaseURL, Realm: s.realm.Realm, API: apiURL})
	if err != nil {
		t.Fatal(err)
	}
	apiSrv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
	webSrv := &http.Server{Handler: web, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = apiSrv.Serve(apiL) }()
	go func() { _ = webSrv.Serve(webL) }()
	t.Cleanup(func() {
		_ = webSrv.Close()
		_ = apiSrv.Close()
		_ = a.Close()
		if t.Failed() {
			t.Logf("capacitor-backend log:\n%s", s.log.String())
		}
	})
	return s
}

// user creates a user of the realm (deleted when the test ends) with the
// realm roles, a verified e-mail and a name, so the login form asks for
// nothing more.
func (s *stack) user(t *testing.T, roles ...string) keycloaktest.User {
	t.Helper()
	_, u := s.realm.CreateUser(t, keycloaktest.User{RealmRoles: roles,
		ClientRoles: map[string][]string{keycloaktest.BackendClientID: {"reader"}}})
	return u
}

// apiStatus calls GET /api/profile with the token from Go, as anyone who
// copied the token could.
func (s *stack) apiStatus(t *testing.T, token string) (int, string) {
	t.Helper()
	return s.apiCall(t, http.MethodGet, app.RouteProfile, map[string]string{"Authorization": "Bearer " + token})
}

// wantAccessRefused checks that the API refuses token as a revoked or
// otherwise invalid one (401 invalid_token); what names it in the failure.
func (s *stack) wantAccessRefused(t *testing.T, rec *recorder, what, token string) {
	t.Helper()
	if st, hdr := s.apiStatus(t, token); st != http.StatusUnauthorized || !strings.Contains(hdr, `error="invalid_token"`) {
		rec.fatalf("%s: API answered %d %q, want 401 invalid_token", what, st, hdr)
	}
}

// wantRefreshRevoked checks that Keycloak refuses the refresh token (400
// invalid_grant).
func (s *stack) wantRefreshRevoked(t *testing.T, rec *recorder, what, refreshToken string) {
	t.Helper()
	if st, code := s.refreshStatus(t, refreshToken); st != http.StatusBadRequest || code != "invalid_grant" {
		rec.fatalf("%s: Keycloak answered %d %q, want 400 invalid_grant", what, st, code)
	}
}

// apiCall sends a request with these headers to the API from Go and
// returns the status and the challenges (WWW-Authenticate, joined).
func (s *stack) apiCall(t *testing.T, method, path string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.apiURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, strings.Join(resp.Header.Values("WWW-Authenticate"), ", ")
}

// audit is an audit event of the API, as its JSON log has it.
type audit struct {
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	Path   string `json:"path"`
	Detail string `json:"detail"`
}

// audits returns the API's audit events from the mark-th on, and the mark
// for the next call.
func (s *stack) audits(mark int) ([]audit, int) {
	var all []audit
	for line := range strings.Lines(s.log.String()) {
		var ev struct {
			Msg string `json:"msg"`
			audit
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Msg == "audit" {
			all = append(all, ev.audit)
		}
	}
	return all[min(mark, len(all)):], len(all)
}

// tokenEndpoint posts a form to the realm's token endpoint from Go and
// returns the status and the OAuth error code.
func (s *stack) tokenEndpoint(t *testing.T, form url.Values) (int, string) {
	t.Helper()
	resp, err := s.hc.PostForm(s.realm.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body)
	return resp.StatusCode, body.Error
}

func (s *stack) refreshStatus(t *testing.T, refreshToken string) (int, string) {
	t.Helper()
	return s.tokenEndpoint(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {keycloaktest.MobileClientID},
		"refresh_token": {refreshToken}})
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
