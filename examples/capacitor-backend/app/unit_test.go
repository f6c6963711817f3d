package app_test

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/examples/capacitor-backend/app"
	"github.com/tokenwarden/tokenwarden/keycloaktest/fake"
)

// backend is the example backend in process against a fake realm, served
// on a loopback port so that the realm's logout notifications reach it.
type backend struct {
	kc  *fake.Keycloak
	app *app.App
	client
}

// realmFaults makes the fake realm's JWKS or revocation endpoint answer 503.
type realmFaults struct{ certs, revoke atomic.Bool }

func (f *realmFaults) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.certs.Load() && strings.HasSuffix(r.URL.Path, "/certs") || f.revoke.Load() && strings.HasSuffix(r.URL.Path, "/revoke") {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func newBackend(t *testing.T, kc *fake.Keycloak, cfg app.Config) *backend {
	t.Helper()
	cfg.Issuer = kc.IssuerURL()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &backend{kc: kc, app: a, client: client{t: t, url: srv.URL}}
}

// TestHandlersFake runs the backend's routes against the fake realm: roles
// and the admin guard, logout, the back-channel logout and the not-before
// push Keycloak sends, health and readiness, CORS.
func TestHandlersFake(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	kc := fake.New(t, fake.Config{Now: clock})
	b := newBackend(t, kc, app.Config{ClientSecret: fake.BackendClientSecret})
	kc.UpdateClient(t, fake.MobileClientID, func(c *fake.Client) { c.BackchannelLogoutURL = b.url + app.RouteBackchannelLogout })
	kc.UpdateClient(t, fake.BackendClientID, func(c *fake.Client) { c.AdminURL = b.url + app.RouteKeycloakAdmin })

	alice := kc.PasswordToken(t, fake.MobileClientID, "", "alice", "alice-password")
	bob := kc.PasswordToken(t, fake.MobileClientID, "", "bob", "bob-password")
	routes := []struct {
		name, path, token string
		want              int
		wantAuth          string
	}{
		{"profile alice", app.RouteProfile, alice.AccessToken, 200, ""},
		{"profile without token", app.RouteProfile, "", 401, `Bearer realm="tokenwarden"`},
		{"profile forged token", app.RouteProfile, kc.Break(t, alice.AccessToken, fake.BadSignature), 401, `error="invalid_token"`},
		{"admin report alice", app.RouteAdminReport, alice.AccessToken, 403, `error="insufficient_scope"`},
		{"admin report bob", app.RouteAdminReport, bob.AccessToken, 200, ""},
	}
	for _, tt := range routes {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.do(http.MethodGet, tt.path, tt.token, nil, nil)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, tt.wantAuth) || (tt.wantAuth == "") != (got == "") {
				t.Errorf("WWW-Authenticate %q, want it to contain %q", got, tt.wantAuth)
			}
		})
	}

	// The app's logout.
	if resp, body := b.do(http.MethodPost, app.RouteLogout, alice.AccessToken, url.Values{"refresh_token": {alice.RefreshToken}}, nil); resp.StatusCode != 204 {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	if resp, _ := b.do(http.MethodGet, app.RouteProfile, alice.AccessToken, nil, nil); resp.StatusCode != 401 {
		t.Errorf("after logout: %d", resp.StatusCode)
	}

	// An administrator signs bob out: the logout token reaches the backend.
	kc.LogoutUser(t, "bob")
	if resp, _ := b.do(http.MethodGet, app.RouteAdminReport, bob.AccessToken, nil, nil); resp.StatusCode != 401 {
		t.Errorf("bob after the back-channel logout: %d", resp.StatusCode)
	}

	// A not-before pushed to the backend client's admin URL refuses every
	// earlier token of the realm.
	carol := kc.PasswordToken(t, fake.MobileClientID, "", "alice", "alice-password")
	mu.Lock()
	now = now.Add(2 * time.Second) // iat < notBefore, in whole seconds
	mu.Unlock()
	kc.SetNotBeforeNow(t)
	if res := kc.PushRevocation(t); len(res.SuccessRequests) != 1 {
		t.Fatalf("push: %+v", res)
	}
	if resp, _ := b.do(http.MethodGet, app.RouteProfile, carol.AccessToken, nil, nil); resp.StatusCode != 401 {
		t.Errorf("after the not-before push: %d", resp.StatusCode)
	}

	for _, path := range []string{app.RouteHealth, app.RouteReady} {
		if resp, body := b.do(http.MethodGet, path, "", nil, nil); resp.StatusCode != 200 ||
			!strings.Contains(body, `"status":"ok"`) && !strings.Contains(body, `"status":"ready"`) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	resp, _ := b.do(http.MethodOptions, app.RouteProfile, "", nil, map[string]string{"Origin": "capacitor://localhost",
		"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "capacitor://localhost" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestReadyzFake: /readyz answers 503 while the realm's keys cannot be
// fetched and 200 once they can; with RequireKeysAtStart the backend does
// not start at all.
func TestReadyzFake(t *testing.T) {
	var faults realmFaults
	faults.certs.Store(true)
	kc := fake.New(t, fake.Config{Middleware: faults.middleware})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := app.New(ctx, app.Config{Issuer: kc.IssuerURL(), RequireKeysAtStart: true}, nil); err == nil {
		t.Fatal("RequireKeysAtStart: started without keys")
	}

	b := newBackend(t, kc, app.Config{})
	resp, body := b.do(http.MethodGet, app.RouteReady, "", nil, nil)
	if resp.StatusCode != 503 || !strings.Contains(body, `"status":"not ready"`) || !strings.Contains(body, "signing keys unavailable") {
		t.Fatalf("readyz with the JWKS down: %d %s", resp.StatusCode, body)
	}
	faults.certs.Store(false)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, body = b.do(http.MethodGet, app.RouteReady, "", nil, nil)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after the JWKS recovered: %d %s", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLogoutStatusesDocumented compares docs/capacitor.md's table of the
// answers of POST /auth/logout with the backend: every situation an app
// meets (the POST requests it sends, the realm's and the backend's
// failures) must end in a documented status, and every documented status
// must be produced by one of them.
func TestLogoutStatusesDocumented(t *testing.T) {
	documented := logoutStatuses(t)

	var faults realmFaults
	kc := fake.New(t, fake.Config{Middleware: faults.middleware})
	b := newBackend(t, kc, app.Config{})
	web := kc.CloneClient(t, fake.MobileClientID, nil) // another public client of the realm
	login := func() fake.Tokens { return kc.PasswordToken(t, fake.MobileClientID, "", "alice", "alice-password") }
	logout := func(b *backend, access string, form url.Values) int {
		resp, _ := b.do(http.MethodPost, app.RouteLogout, access, form, nil)
		return resp.StatusCode
	}
	refresh := func(tok fake.Tokens) url.Values { return url.Values{"refresh_token": {tok.RefreshToken}} }

	situations := []struct {
		name string
		run  func() int
	}{
		{"logout", func() int { l := login(); return logout(b, l.AccessToken, refresh(l)) }},
		{"logout again with the same tokens", func() int {
			l := login()
			logout(b, l.AccessToken, refresh(l))
			return logout(b, l.AccessToken, refresh(l))
		}},
		{"no refresh_token", func() int { return logout(b, login().AccessToken, url.Values{}) }},
		{"refresh_token twice", func() int {
			l := login()
			return logout(b, l.AccessToken, url.Values{"refresh_token": {l.RefreshToken, l.RefreshToken}})
		}},
		{"another client's refresh token", func() int {
			other := kc.PasswordToken(t, web, "", "alice", "alice-password")
			return logout(b, login().AccessToken, refresh(other))
		}},
		{"no access token", func() int { return logout(b, "", refresh(login())) }},
		{"expired access token", func() int {
			l := login()
			return logout(b, kc.Break(t, l.AccessToken, fake.Expired), refresh(l))
		}},
		{"forged access token", func() int {
			l := login()
			return logout(b, kc.Break(t, l.AccessToken, fake.BadSignature), refresh(l))
		}},
		{"Keycloak's revocation endpoint down", func() int {
			l := login()
			faults.revoke.Store(true)
			defer faults.revoke.Store(false)
			return logout(b, l.AccessToken, refresh(l))
		}},
		{"the realm's keys unavailable", func() int {
			l := login()
			faults.certs.Store(true)
			defer faults.certs.Store(false)
			fresh := newBackend(t, kc, app.Config{}) // has no keys yet, cannot fetch them
			return logout(fresh, l.AccessToken, refresh(l))
		}},
	}
	produced := map[int]bool{}
	for _, s := range situations {
		status := s.run()
		t.Logf("%s: %d", s.name, status)
		produced[status] = true
		if !documented[status] {
			t.Errorf("%s: status %d is not documented in docs/capacitor.md", s.name, status)
		}
	}
	for status := range documented {
		if !produced[status] {
			t.Errorf("docs/capacitor.md documents %d for POST %s, which no situation produced", status, app.RouteLogout)
		}
	}
}

// logoutStatuses reads the statuses of docs/capacitor.md's table of the
// logout answers (the rows whose first cell holds **NNN**).
func logoutStatuses(t *testing.T) map[int]bool {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "capacitor.md"))
	if err != nil {
		t.Fatal(err)
	}
	const header = "| answer | what the API did | what the app does |"
	_, table, ok := strings.Cut(string(doc), header)
	if !ok {
		t.Fatalf("docs/capacitor.md has no table %q", header)
	}
	status := regexp.MustCompile(`^\| \*\*(\d{3})\*\*`)
	out := map[int]bool{}
	for line := range strings.Lines(table) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if len(out) > 0 || line != "" {
				break
			}
			continue
		}
		if m := status.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			out[n] = true
		}
	}
	if len(out) < 3 {
		t.Fatalf("only %v found in the logout table", slices.Sorted(maps.Keys(out)))
	}
	return out
}
