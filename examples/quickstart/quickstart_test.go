package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

func TestMain(m *testing.M) { keycloaktest.Main(m) }

// between returns the text of b after the line holding begin and before the
// line holding end.
func between(t *testing.T, b []byte, begin, end string) string {
	t.Helper()
	s := string(b)
	i := strings.Index(s, begin)
	if i < 0 {
		t.Fatalf("%q not found", begin)
	}
	s = s[i+len(begin):]
	s = s[strings.Index(s, "\n")+1:]
	j := strings.Index(s, end)
	if j < 0 {
		t.Fatalf("%q not found", end)
	}
	return s[:j]
}

// TestReadmeQuickStart: the README's quick start is newHandler, byte for
// byte.
func TestReadmeQuickStart(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := between(t, readme, "## Quick start", "\n## ")
	block := between(t, []byte(section), "```go", "```")
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	code := between(t, src, "// quick start begin", "// quick start end")
	if strings.TrimSpace(block) != strings.TrimSpace(code) {
		t.Errorf("README.md's quick start differs from newHandler in examples/quickstart/main.go:\n--- README\n%s\n--- main.go\n%s", block, code)
	}
}

// TestQuickStartAgainstKeycloak runs the quick start's handler against the
// real Keycloak.
func TestQuickStartAgainstKeycloak(t *testing.T) {
	kc := keycloaktest.New(t)
	h, closeAll, err := newHandler(kc.BaseURL, kc.Realm)
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
}
