package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeKeycloak is the slice of Keycloak's admin API the admin commands use.
// It checks the admin credentials and bearer token on every request and
// records the state changes it was asked for.
type fakeKeycloak struct {
	t   testing.TB
	srv *httptest.Server

	mu             sync.Mutex
	calls          []string // "METHOD path"
	sessions       []map[string]any
	userNotBefore  int64
	realmNotBefore int64
	pushResult     string // JSON answer of push-revocation
	pushStatus     int
	adminLoggedOut bool
}

const (
	fakeAdminPassword = "admin-pw-9f8e7d"
	fakeAdminToken    = "admin-access-token"
	fakeAdminRefresh  = "admin-refresh-token"
	fakeAliceID       = "8c1e0c43-5f0e-4a8d-9a43-2b1f8f7d0a11"
)

func newFakeKeycloak(t testing.TB) *fakeKeycloak {
	f := &fakeKeycloak{
		t: t,
		sessions: []map[string]any{
			{"id": "b7d5c2a0-0000-4000-8000-000000000001", "username": "alice", "userId": fakeAliceID,
				"ipAddress": "127.0.0.1", "start": int64(1795424400000), "lastAccess": int64(1795424460000),
				"clients": map[string]string{"uuid-mobile": "mobile"}},
			{"id": "b7d5c2a0-0000-4000-8000-000000000002", "username": "alice", "userId": fakeAliceID,
				"ipAddress": "10.0.0.7", "start": int64(1795424500000), "lastAccess": int64(1795424500000),
				"clients": map[string]string{"uuid-mobile": "mobile", "uuid-backend": "backend"}},
		},
		pushResult: `{"successRequests":["http://api-1.internal:8081/auth/keycloak"],"failedRequests":[]}`,
		pushStatus: http.StatusOK,
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeKeycloak) env() map[string]string {
	return map[string]string{
		"KEYCLOAK_URL":            f.srv.URL,
		"KEYCLOAK_REALM":          "tokenwarden",
		"KEYCLOAK_ADMIN_USER":     "admin",
		"KEYCLOAK_ADMIN_PASSWORD": fakeAdminPassword,
	}
}

func (f *fakeKeycloak) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	w.Header().Set("Content-Type", "application/json")

	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/realms/master/protocol/openid-connect/token":
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if r.PostForm.Get("client_id") != "admin-cli" || r.PostForm.Get("grant_type") != "password" ||
			r.PostForm.Get("username") != "admin" || r.PostForm.Get("password") != fakeAdminPassword {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_grant","error_description":"Invalid user credentials"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":%q,"refresh_token":%q,"token_type":"Bearer","expires_in":60}`, fakeAdminToken, fakeAdminRefresh)
		return
	case r.Method == http.MethodPost && r.URL.Path == "/realms/master/protocol/openid-connect/logout":
		_ = r.ParseForm()
		if r.PostForm.Get("refresh_token") == fakeAdminRefresh {
			f.adminLoggedOut = true
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}

	if r.Header.Get("Authorization") != "Bearer "+fakeAdminToken {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"HTTP 401 Unauthorized"}`)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/admin/realms/redirect/") {
		w.Header().Set("Location", "https://elsewhere.example/")
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	const admin = "/admin/realms/tokenwarden"
	switch {
	case r.Method == http.MethodGet && r.URL.Path == admin+"/users":
		q := r.URL.Query()
		if q.Get("exact") != "true" {
			f.t.Errorf("user lookup without exact=true: %s", r.URL.RawQuery)
		}
		if q.Get("username") == "alice" {
			fmt.Fprintf(w, `[{"id":%q,"username":"alice"}]`, fakeAliceID)
			return
		}
		io.WriteString(w, `[]`)
	case r.Method == http.MethodGet && r.URL.Path == admin+"/users/"+fakeAliceID:
		fmt.Fprintf(w, `{"id":%q,"username":"alice","notBefore":%d}`, fakeAliceID, f.userNotBefore)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, admin+"/users/") && !strings.HasSuffix(r.URL.Path, "/sessions"):
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":"User not found"}`)
	case r.Method == http.MethodGet && r.URL.Path == admin+"/users/"+fakeAliceID+"/sessions":
		_ = json.NewEncoder(w).Encode(f.sessions)
	case r.Method == http.MethodPost && r.URL.Path == admin+"/users/"+fakeAliceID+"/logout":
		f.sessions = nil
		f.userNotBefore = 1795425000
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, admin+"/sessions/"):
		id := strings.TrimPrefix(r.URL.Path, admin+"/sessions/")
		for i, s := range f.sessions {
			if s["id"] == id {
				f.sessions = append(f.sessions[:i], f.sessions[i+1:]...)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
	case r.Method == http.MethodPut && r.URL.Path == admin:
		var rep map[string]any
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		// A partial update: the realm name and notBefore, nothing else that
		// could overwrite the realm's settings.
		if len(rep) != 2 || rep["realm"] != "tokenwarden" {
			f.t.Errorf("realm update carries more than realm and notBefore: %v", rep)
		}
		nb, ok := rep["notBefore"].(float64)
		if !ok {
			f.t.Errorf("realm update without numeric notBefore: %v", rep)
		}
		f.realmNotBefore = int64(nb)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && r.URL.Path == admin+"/push-revocation":
		w.WriteHeader(f.pushStatus)
		io.WriteString(w, f.pushResult)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":"not found"}`)
	}
}

func (f *fakeKeycloak) called(call string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c == call {
			return true
		}
	}
	return false
}

func TestSessionsFake(t *testing.T) {
	for _, format := range []string{"txt", "json"} {
		t.Run(format, func(t *testing.T) {
			f := newFakeKeycloak(t)
			args := []string{"sessions", "--user", "alice"}
			if format == "json" {
				args = append(args, "--json")
			}
			r := invoke(t, f.env(), "", args...)
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			golden(t, "sessions."+format, r.stdout)
			f.mu.Lock()
			loggedOut := f.adminLoggedOut
			f.mu.Unlock()
			if !loggedOut {
				t.Error("the admin session was not ended")
			}
			if strings.Contains(r.stdout+r.stderr, fakeAdminToken) || strings.Contains(r.stdout+r.stderr, fakeAdminPassword) {
				t.Error("output leaks the admin token or password")
			}
		})
	}
}

func TestLogoutUserFake(t *testing.T) {
	for _, format := range []string{"txt", "json"} {
		t.Run(format, func(t *testing.T) {
			f := newFakeKeycloak(t)
			args := []string{"logout-user", "--user", "alice"}
			if format == "json" {
				args = append(args, "--json")
			}
			r := invoke(t, f.env(), "", args...)
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if !f.called("POST /admin/realms/tokenwarden/users/" + fakeAliceID + "/logout") {
				t.Fatal("the admin logout endpoint was not called")
			}
			golden(t, "logout-user."+format, r.stdout)
		})
	}

	t.Run("single session", func(t *testing.T) {
		f := newFakeKeycloak(t)
		r := invoke(t, f.env(), "", "logout-user", "--user", "alice", "--session", "b7d5c2a0-0000-4000-8000-000000000002")
		if r.code != exitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if !f.called("DELETE /admin/realms/tokenwarden/sessions/b7d5c2a0-0000-4000-8000-000000000002") {
			t.Fatal("the session was not deleted")
		}
		if f.called("POST /admin/realms/tokenwarden/users/" + fakeAliceID + "/logout") {
			t.Fatal("a single-session logout must not log the user out everywhere")
		}
		golden(t, "logout-user-session.txt", r.stdout)
	})

	tests := []struct {
		name     string
		env      func(map[string]string)
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown user", nil, []string{"--user", "mallory"}, exitRefused, `no user "mallory"`},
		{"unknown user id", nil, []string{"--user-id", "0000"}, exitRefused, "404"},
		{"session of someone else", nil, []string{"--user", "alice", "--session", "other"}, exitRefused, `has no session "other"`},
		{"bad session id", nil, []string{"--user", "alice", "--session", "../users"}, exitUsage, "invalid session id"},
		{"user and id", nil, []string{"--user", "alice", "--user-id", fakeAliceID}, exitUsage, "not both"},
		{"no user", nil, nil, exitUsage, "give --user or --user-id"},
		{"wrong password", func(e map[string]string) { e["KEYCLOAK_ADMIN_PASSWORD"] = "wrong-pw-123" },
			[]string{"--user", "alice"}, exitRefused, "401"},
		{"redirected", func(e map[string]string) { e["KEYCLOAK_REALM"] = "redirect" },
			[]string{"--user", "alice"}, exitUnavailable, "unexpected redirect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeKeycloak(t)
			env := f.env()
			if tt.env != nil {
				tt.env(env)
			}
			r := invoke(t, env, "", append([]string{"logout-user"}, tt.args...)...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tt.wantCode, tt.wantErr)
			}
			if strings.Contains(r.stderr, "wrong-pw-123") {
				t.Error("stderr leaks the password")
			}
			if f.called("POST /admin/realms/tokenwarden/users/"+fakeAliceID+"/logout") ||
				f.called("DELETE /admin/realms/tokenwarden/sessions/other") {
				t.Error("a failed command changed state")
			}
		})
	}
}

func TestPushNotBeforeFake(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		pushResult string
		pushStatus int
		wantCode   int
		wantPush   bool
		golden     string
	}{
		{"pushed", nil, "", 0, exitOK, true, "push-not-before.txt"},
		{"pushed json", []string{"--json"}, "", 0, exitOK, true, "push-not-before.json"},
		{"partial", nil, `{"successRequests":["http://api-1.internal:8081/auth/keycloak"],` +
			`"failedRequests":["http://api-2.internal:8081/auth/keycloak"]}`, 200, exitPartial, true, "push-not-before-partial.txt"},
		{"no admin urls", nil, `{"successRequests":[],"failedRequests":[]}`, 200, exitOK, true, "push-not-before-nobody.txt"},
		{"not pushed", []string{"-push=false"}, "", 0, exitOK, false, "push-not-before-nopush.txt"},
		{"push fails", nil, `{"error":"unknown_error"}`, 500, exitUnavailable, true, ""},
		{"push redirected", nil, ``, http.StatusFound, exitUnavailable, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeKeycloak(t)
			if tt.pushStatus != 0 {
				f.mu.Lock()
				f.pushResult, f.pushStatus = tt.pushResult, tt.pushStatus
				f.mu.Unlock()
			}
			r := invokeAt(t, fixedNow, f.env(), "", append([]string{"push-not-before"}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %s", r.code, tt.wantCode, r.stderr)
			}
			f.mu.Lock()
			nb := f.realmNotBefore
			f.mu.Unlock()
			if nb != fixedNow.Unix() {
				t.Errorf("realm not-before %d, want %d", nb, fixedNow.Unix())
			}
			if got := f.called("POST /admin/realms/tokenwarden/push-revocation"); got != tt.wantPush {
				t.Errorf("push called %v, want %v", got, tt.wantPush)
			}
			if tt.golden != "" {
				golden(t, tt.golden, r.stdout)
			} else if !strings.Contains(r.stderr, "not-before set to") || !strings.Contains(r.stderr, "the push failed") {
				t.Errorf("stderr %q does not say the not-before was set", r.stderr)
			}
		})
	}
}
