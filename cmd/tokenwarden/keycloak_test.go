package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/dpop"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// These tests run the CLI against a real Keycloak (keycloaktest: the one of
// `make services`, or one it starts). They share one isolated copy of the
// project's realm, so logging users out and pushing a realm not-before never
// touch the "tokenwarden" realm other packages' tests use. The realm's API
// URLs point at a recording fake API (httptest), which proves what Keycloak
// sends there. Each subtest logs in afresh: a logout or a pushed not-before
// of one does not reach the tokens of the next.

func TestMain(m *testing.M) { keycloaktest.Main(m) }

// fakeAPI records what Keycloak posts to the API's back-channel logout and
// admin URLs.
type fakeAPI struct {
	srv *httptest.Server

	mu    sync.Mutex
	posts map[string]int // "METHOD path" -> count
}

func newFakeAPI(t testing.TB) *fakeAPI {
	f := &fakeAPI{posts: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		f.mu.Lock()
		f.posts[r.Method+" "+r.URL.Path]++
		f.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) count(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts[call]
}

// kcRealm is the isolated realm and the fake API it notifies.
type kcRealm struct {
	kc  *keycloaktest.Keycloak
	api *fakeAPI
}

// env is the environment of the admin commands.
func (r *kcRealm) env() map[string]string {
	return map[string]string{
		"KEYCLOAK_URL":            r.kc.BaseURL,
		"KEYCLOAK_REALM":          r.kc.Realm,
		"KEYCLOAK_ADMIN_USER":     r.kc.AdminUser,
		"KEYCLOAK_ADMIN_PASSWORD": r.kc.AdminPassword,
	}
}

// backendEnv is the environment of the token commands: the confidential
// client "backend" of the realm file.
func (r *kcRealm) backendEnv() map[string]string {
	return map[string]string{
		"TOKENWARDEN_ISSUER":        r.kc.IssuerURL(),
		"TOKENWARDEN_CLIENT_ID":     "backend",
		"TOKENWARDEN_CLIENT_SECRET": "backend-secret",
	}
}

// login is a password grant as the public mobile client (direct grants are
// enabled in the test realm for tests only).
func (r *kcRealm) login(t *testing.T, username, password string) keycloaktest.Tokens {
	t.Helper()
	return r.kc.PasswordToken(t, "mobile", "", username, password)
}

func TestKeycloak(t *testing.T) {
	api := newFakeAPI(t)
	r := &kcRealm{kc: keycloaktest.New(t).IsolatedRealm(t, api.srv.URL), api: api}
	t.Run("sessions and logout-user", func(t *testing.T) { testSessionsAndLogoutUser(t, r) })
	t.Run("logout-user --session", func(t *testing.T) { testLogoutSingleSession(t, r) })
	t.Run("verify", func(t *testing.T) { testVerify(t, r) })
	t.Run("verify a DPoP-bound token", func(t *testing.T) { testVerifyDPoP(t, r) })
	t.Run("introspect and revoke", func(t *testing.T) { testIntrospectRevoke(t, r) })
	t.Run("push-not-before", func(t *testing.T) { testPushNotBefore(t, r) })
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func testSessionsAndLogoutUser(t *testing.T, r *kcRealm) {
	tok := r.login(t, "alice", "alice-password")
	sid := tok.SessionID

	// sessions lists the session of the password grant.
	res := invoke(t, r.env(), "", "sessions", "--user", "alice", "--json")
	if res.code != exitOK {
		t.Fatalf("sessions: exit %d: %s", res.code, res.stderr)
	}
	var listed struct {
		User     string    `json:"user"`
		Sessions []session `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &listed); err != nil {
		t.Fatal(err)
	}
	// Earlier tests (or -count=2) may have left other sessions of alice.
	var found *session
	for i := range listed.Sessions {
		if listed.Sessions[i].ID == sid {
			found = &listed.Sessions[i]
		}
	}
	if listed.User != "alice" || found == nil {
		t.Fatalf("sessions = %+v, want one with sid %s", listed, sid)
	}
	if len(found.Clients) != 1 || found.Clients[0] != "mobile" {
		t.Errorf("session clients = %v, want [mobile]", found.Clients)
	}

	// Introspection sees the token as active before the logout.
	if res := invoke(t, r.backendEnv(), tok.AccessToken, "introspect"); res.code != exitOK {
		t.Fatalf("introspect before logout: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}

	// logout-user ends it, sets the user's not-before and makes Keycloak
	// send a back-channel logout to the API.
	before := time.Now().Add(-time.Second)
	logouts := r.api.count("POST /auth/backchannel-logout")
	res = invoke(t, r.env(), "", "logout-user", "--user", "alice", "--json")
	if res.code != exitOK {
		t.Fatalf("logout-user: exit %d: %s", res.code, res.stderr)
	}
	var lo logoutResult
	if err := json.Unmarshal([]byte(res.stdout), &lo); err != nil {
		t.Fatal(err)
	}
	if len(lo.Sessions) != len(listed.Sessions) || !slices.Contains(lo.Sessions, sid) {
		t.Errorf("sessions ended = %v, want the %d listed, with %s", lo.Sessions, len(listed.Sessions), sid)
	}
	if lo.UserNotBefore.Before(before.Truncate(time.Second)) {
		t.Errorf("user not-before %v, want about now (after %v)", lo.UserNotBefore, before)
	}
	// One logout token per session, each with the mobile client in it.
	if n := r.api.count("POST /auth/backchannel-logout") - logouts; n != len(lo.Sessions) {
		t.Errorf("the API received %d back-channel logouts, want %d", n, len(lo.Sessions))
	}

	res = invoke(t, r.env(), "", "sessions", "--user", "alice")
	if res.code != exitOK || !strings.Contains(res.stdout, "has no active session") {
		t.Errorf("sessions after logout: exit %d, %q", res.code, res.stdout)
	}
	res = invoke(t, r.backendEnv(), tok.AccessToken, "introspect")
	if res.code != exitRejected || !strings.HasPrefix(res.stdout, "inactive:") {
		t.Errorf("introspect after logout: exit %d, %q %q; want %d inactive", res.code, res.stdout, res.stderr, exitRejected)
	}
	// The token still verifies offline: only the API's deny-list (fed by the
	// back-channel logout) or introspection can refuse it.
	if res := invoke(t, r.backendEnv(), tok.AccessToken, "verify"); res.code != exitOK {
		t.Errorf("verify after logout: exit %d, want 0 (local verification cannot see the logout)", res.code)
	}
}

func testLogoutSingleSession(t *testing.T, r *kcRealm) {
	keep := r.login(t, "bob", "bob-password")
	end := r.login(t, "bob", "bob-password")
	endSID := end.SessionID

	res := invoke(t, r.env(), "", "logout-user", "--user", "bob", "--session", endSID)
	if res.code != exitOK {
		t.Fatalf("logout-user --session: exit %d: %s", res.code, res.stderr)
	}
	if res := invoke(t, r.backendEnv(), end.AccessToken, "introspect"); res.code != exitRejected {
		t.Errorf("ended session's token: exit %d, want %d", res.code, exitRejected)
	}
	if res := invoke(t, r.backendEnv(), keep.AccessToken, "introspect"); res.code != exitOK {
		t.Errorf("other session's token: exit %d, want 0: %s", res.code, res.stdout)
	}
	if res := invoke(t, r.env(), "", "logout-user", "--user", "bob", "--session", endSID); res.code != exitRefused {
		t.Errorf("ending an ended session: exit %d, want %d", res.code, exitRefused)
	}
}

func testPushNotBefore(t *testing.T, r *kcRealm) {
	old := r.login(t, "alice", "alice-password")
	if res := invoke(t, r.backendEnv(), old.AccessToken, "introspect"); res.code != exitOK {
		t.Fatalf("introspect before: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}
	// Not-before has a resolution of one second and a token is stale only
	// when iat < notBefore: let the second of the old token's iat pass.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))

	pushes := r.api.count("POST /auth/keycloak/k_push_not_before")
	res := invoke(t, r.env(), "", "push-not-before", "--json")
	if res.code != exitOK {
		t.Fatalf("push-not-before: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}
	var pr pushResult
	if err := json.Unmarshal([]byte(res.stdout), &pr); err != nil {
		t.Fatal(err)
	}
	if !pr.Pushed || len(pr.Succeeded) != 1 || len(pr.Failed) != 0 || !strings.HasPrefix(pr.Succeeded[0], r.api.srv.URL) {
		t.Errorf("push result %+v, want one success at the API", pr)
	}
	if n := r.api.count("POST /auth/keycloak/k_push_not_before") - pushes; n != 1 {
		t.Errorf("the API received %d k_push_not_before, want 1", n)
	}

	// Keycloak itself now refuses the older token.
	res = invoke(t, r.backendEnv(), old.AccessToken, "introspect")
	if res.code != exitRejected {
		t.Errorf("older token: exit %d, want %d: %s %s", res.code, exitRejected, res.stdout, res.stderr)
	}
	// A token issued from now on is fine.
	fresh := r.login(t, "alice", "alice-password")
	if res := invoke(t, r.backendEnv(), fresh.AccessToken, "introspect"); res.code != exitOK {
		t.Errorf("fresh token: exit %d, want 0: %s %s", res.code, res.stdout, res.stderr)
	}

	// The realm's not-before is what the command reported.
	realm, err := r.kc.GoCloak().GetRealm(context.Background(), r.kc.AdminToken(t), r.kc.Realm)
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(deref(realm.NotBefore)); got != pr.NotBefore.Unix() {
		t.Errorf("realm notBefore %d, command reported %d", got, pr.NotBefore.Unix())
	}
}

// testVerifyDPoP: a token Keycloak bound to a key (the DPoP client) verifies
// offline and shows the key it is bound to, and Keycloak answers active.
func testVerifyDPoP(t *testing.T, r *kcRealm) {
	key, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	tok := r.kc.PasswordTokenDPoP(t, key, keycloaktest.DPoPClientID, "", "alice", "alice-password")
	res := invoke(t, r.backendEnv(), tok.AccessToken, "verify")
	if res.code != exitOK || !strings.Contains(res.stdout, "bound to key") || !strings.Contains(res.stdout, key.Thumbprint()) {
		t.Fatalf("verify: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}
	if res := invoke(t, r.backendEnv(), tok.AccessToken, "introspect"); res.code != exitOK {
		t.Fatalf("introspect: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}
}

func testVerify(t *testing.T, r *kcRealm) {
	// The tokens a Capacitor app gets: authorization code + PKCE through
	// Keycloak's login form.
	tok := r.kc.LoginPKCE(t, "bob", "bob-password")

	st := invoke(t, r.backendEnv(), "", "status", "--json")
	var sr statusResult
	if st.code != exitOK || json.Unmarshal([]byte(st.stdout), &sr) != nil {
		t.Fatalf("status: exit %d: %s %s", st.code, st.stdout, st.stderr)
	}
	// Keycloak's JWKS also lists an RSA-OAEP encryption key, which is not a
	// signing key.
	if sr.Keys < 1 || !sr.BackchannelLogout || !sr.BackchannelSession || sr.RevocationEndpoint == "" {
		t.Errorf("status %+v", sr)
	}

	res := invoke(t, r.backendEnv(), tok.AccessToken, "verify")
	if res.code != exitOK {
		t.Fatalf("verify: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"valid:", "username", "bob", "realm roles", "admin", "backend: reader, writer"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout+res.stderr, tok.AccessToken) {
		t.Error("verify printed the token")
	}

	parts := strings.Split(tok.AccessToken, ".")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name  string
		token string
		env   map[string]string
		want  string
	}{
		{"tampered signature", parts[0] + "." + parts[1] + "." + flip(parts[2], 10), nil, "invalid signature"},
		{"tampered payload", parts[0] + "." + flip(parts[1], 20) + "." + parts[2], nil, "invalid:"},
		{"wrong audience", tok.AccessToken, map[string]string{"TOKENWARDEN_AUDIENCE": "someone-else"}, "wrong audience"},
		{"refresh token as access token", tok.RefreshToken, nil, "invalid:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := invoke(t, merge(r.backendEnv(), tt.env), tt.token, "verify")
			if res.code != exitRejected || !strings.Contains(res.stdout, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", res.code, res.stdout, res.stderr, exitRejected, tt.want)
			}
		})
	}
}

func testIntrospectRevoke(t *testing.T, r *kcRealm) {
	tok := r.login(t, "alice", "alice-password")

	res := invoke(t, r.backendEnv(), tok.AccessToken, "introspect", "--json")
	if res.code != exitOK {
		t.Fatalf("introspect: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}
	var v tokenVerdict
	if err := json.Unmarshal([]byte(res.stdout), &v); err != nil {
		t.Fatal(err)
	}
	if v.Active == nil || !*v.Active || v.Username != "alice" || v.Claims == nil || v.Claims.AuthorizedParty != "mobile" {
		t.Fatalf("introspection verdict %+v", v)
	}

	// The mobile client is public: it revokes its own token with its id only.
	mobile := map[string]string{"TOKENWARDEN_ISSUER": r.kc.IssuerURL(), "TOKENWARDEN_CLIENT_ID": "mobile"}
	res = invoke(t, mobile, tok.AccessToken, "revoke")
	if res.code != exitOK || !strings.HasPrefix(res.stdout, "revoked:") {
		t.Fatalf("revoke: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}
	res = invoke(t, r.backendEnv(), tok.AccessToken, "introspect", "--json")
	if res.code != exitRejected {
		t.Fatalf("introspect after revoke: exit %d, want %d: %s %s", res.code, exitRejected, res.stdout, res.stderr)
	}
	if err := json.Unmarshal([]byte(res.stdout), &v); err != nil || v.Active == nil || *v.Active {
		t.Errorf("verdict after revoke %s (%v)", res.stdout, err)
	}

	// Another client may not revoke mobile's tokens: Keycloak answers 400.
	other := r.login(t, "alice", "alice-password")
	res = invoke(t, r.backendEnv(), other.RefreshToken, "revoke", "--token-type-hint", "refresh_token")
	if res.code != exitRefused {
		t.Errorf("revoke by another client: exit %d, want %d: %s", res.code, exitRefused, res.stderr)
	}
	// Refresh token revocation ends mobile's part of the session.
	res = invoke(t, mobile, fmt.Sprintf(`{"access_token":%q,"refresh_token":%q}`, other.AccessToken, other.RefreshToken),
		"revoke", "--token-type-hint", "refresh_token")
	if res.code != exitOK {
		t.Fatalf("revoke refresh token: exit %d: %s", res.code, res.stderr)
	}
	if res := invoke(t, r.backendEnv(), other.AccessToken, "introspect"); res.code != exitRejected {
		t.Errorf("access token of a revoked refresh token: exit %d, want %d", res.code, exitRejected)
	}

	// Wrong client secret → refused, and the secret is not echoed.
	bad := merge(r.backendEnv(), map[string]string{"TOKENWARDEN_CLIENT_SECRET": "wrong-secret-4711"})
	res = invoke(t, bad, tok.AccessToken, "introspect")
	if res.code != exitRefused || strings.Contains(res.stderr, "wrong-secret-4711") {
		t.Errorf("wrong secret: exit %d, stderr %q; want %d without the secret", res.code, res.stderr, exitRefused)
	}
}

// TestBinary builds the command and runs it as a process.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "tokenwarden")
	var buildOut bytes.Buffer
	build := execCommand(t, "go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = &buildOut, &buildOut
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v\n%s", err, buildOut.String())
	}

	tests := []struct {
		name     string
		args     []string
		env      []string
		stdin    string
		wantCode int
		wantOut  string
	}{
		{"help", []string{"--help"}, nil, "", exitOK, "Commands:"},
		{"command help", []string{"revoke", "-h"}, nil, "", exitOK, "Usage: tokenwarden revoke"},
		{"secret flag", []string{"introspect", "--client-secret", "s3cr3t"}, nil, "", exitUsage, "not accepted on the command line"},
		{"no issuer", []string{"verify", "--client-id", "backend"}, []string{"TOKENWARDEN_ISSUER="}, "x.y.z", exitUsage, "no issuer"},
	}
	f := newFakeKeycloak(t)
	var fenv []string
	for k, v := range f.env() {
		fenv = append(fenv, k+"="+v)
	}
	tests = append(tests, struct {
		name     string
		args     []string
		env      []string
		stdin    string
		wantCode int
		wantOut  string
	}{"sessions against a fake Keycloak", []string{"sessions", "--user", "alice"}, fenv, "", exitOK, "2 active session(s)"})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := execCommand(t, bin, tt.args...)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, tt.env...)
			cmd.Stdin = strings.NewReader(tt.stdin)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			code := 0
			if err != nil {
				code = exitCodeOf(t, err)
			}
			if code != tt.wantCode || !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("exit %d, output %q; want exit %d and %q", code, out.String(), tt.wantCode, tt.wantOut)
			}
			if strings.Contains(out.String(), "s3cr3t") {
				t.Error("the binary echoed a secret")
			}
		})
	}
}

func execCommand(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return exec.CommandContext(ctx, name, args...)
}

func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("run: %v", err)
	}
	return ee.ExitCode()
}
