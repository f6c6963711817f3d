package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/examples/capacitor-backend/app"
	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// line returns the first JSON log line whose msg is msg, or nil.
func (s *syncBuffer) line(t *testing.T, msg string) map[string]any {
	t.Helper()
	for l := range strings.Lines(s.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", l)
		}
		if m["msg"] == msg {
			return m
		}
	}
	return nil
}

// TestMisconfiguredBackendExplains runs the example backend against the
// real Keycloak with one setting wrong at a time: the audience, the issuer
// (Keycloak's host as another name), the client that logout tokens are
// addressed to. Each refusal logs one line at info that names the setting
// and both values, and no line holds token text.
func TestMisconfiguredBackendExplains(t *testing.T) {
	kc := keycloaktest.New(t)
	tests := []struct {
		name    string
		setting string
		// run configures and starts the backend, makes Keycloak or the app
		// present a token, and returns the token and the values the line
		// must show.
		run func(t *testing.T, log *slog.Logger) (token, msg, expected, presented string)
	}{
		{
			name:    "wrong audience",
			setting: "adapter.Config.Audience",
			run: func(t *testing.T, log *slog.Logger) (string, string, string, string) {
				c := start(t, app.Config{Issuer: kc.IssuerURL(), Audience: "orders-api"}, log)
				tok := kc.PasswordToken(t, keycloaktest.MobileClientID, "", "alice", "alice-password").AccessToken
				if resp, body := c.do(http.MethodGet, app.RouteProfile, tok, nil, nil); resp.StatusCode != 401 {
					t.Fatalf("profile: %d %s", resp.StatusCode, body)
				}
				return tok, "adapter: access token refused", `"orders-api"`, `"backend"`
			},
		},
		{
			name:    "wrong issuer",
			setting: "adapter.Config.Issuer",
			run: func(t *testing.T, log *slog.Logger) (string, string, string, string) {
				// Keycloak writes the host it was called on into iss: the
				// backend discovers it under one name of the loopback host,
				// the app logs in under the other.
				other := strings.Replace(kc.IssuerURL(), "://127.0.0.1:", "://localhost:", 1)
				if other == kc.IssuerURL() {
					other = strings.Replace(kc.IssuerURL(), "://localhost:", "://127.0.0.1:", 1)
				}
				if other == kc.IssuerURL() {
					t.Skip("Keycloak's URL is on neither 127.0.0.1 nor localhost: no second name for its host")
				}
				c := start(t, app.Config{Issuer: other}, log)
				tok := kc.PasswordToken(t, keycloaktest.MobileClientID, "", "alice", "alice-password").AccessToken
				if resp, body := c.do(http.MethodGet, app.RouteProfile, tok, nil, nil); resp.StatusCode != 401 {
					t.Fatalf("profile: %d %s", resp.StatusCode, body)
				}
				return tok, "adapter: access token refused", `"` + other + `"`, `"` + kc.IssuerURL() + `"`
			},
		},
		{
			name:    "wrong logout audience",
			setting: "adapter.Config.Clients",
			run: func(t *testing.T, log *slog.Logger) (string, string, string, string) {
				// A realm of its own whose mobile client's back-channel
				// logout URL is this backend, which expects logout tokens
				// for another client.
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				realm := kc.IsolatedRealm(t, "http://"+l.Addr().String())
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				a, err := app.New(ctx, app.Config{Issuer: realm.IssuerURL(), MobileClientID: "web"}, log)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { a.Close() })
				srv := &http.Server{Handler: a.Handler()}
				go func() { _ = srv.Serve(l) }()
				t.Cleanup(func() { srv.Close() })
				tok := realm.PasswordToken(t, keycloaktest.MobileClientID, "", "alice", "alice-password")
				realm.LogoutUser(t, "alice") // Keycloak posts the logout token, synchronously
				// The backend also accepts logout tokens for its DPoP
				// client (mobile-dpop by default).
				return tok.AccessToken, "adapter: logout token refused", `one of ["web", "mobile-dpop"] in aud`, `["mobile"]`
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := &syncBuffer{}
			log := slog.New(slog.NewJSONHandler(buf, nil))
			token, msg, expected, presented := tt.run(t, log)
			line := buf.line(t, msg)
			if line == nil {
				t.Fatalf("no line %q; log:\n%s", msg, buf)
			}
			str := func(k string) string { s, _ := line[k].(string); return s }
			if str("level") != "INFO" || str("setting") != tt.setting || !strings.Contains(str("expected"), expected) ||
				!strings.Contains(str("presented"), presented) {
				t.Errorf("line %v: want INFO, setting %s, expected ⊇ %s, presented ⊇ %s", line, tt.setting, expected, presented)
			}
			t.Logf("%s: %s", tt.name, mustJSON(line))
			logText := buf.String()
			for _, seg := range append([]string{token}, strings.Split(token, ".")...) {
				for i := 0; i+20 <= len(seg); i++ {
					if strings.Contains(logText, seg[i:i+20]) {
						t.Fatalf("the log holds token text")
					}
				}
			}
		})
	}
}

// start runs the backend with cfg on a test server.
func start(t *testing.T, cfg app.Config, log *slog.Logger) client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return client{t: t, url: srv.URL}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
