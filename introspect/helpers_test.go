package introspect_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/introspect"
)

const (
	testIssuer   = "https://kc.example/realms/tokenwarden"
	testClient   = "backend"
	testSecret   = "s3:cr%t+ with space"
	testToken    = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
	introPath    = "/realms/tokenwarden/protocol/openid-connect/token/introspect"
	revokePath   = "/realms/tokenwarden/protocol/openid-connect/revoke"
	testUnixTime = 1_800_000_000
)

var testNow = time.Unix(testUnixTime, 0)

// clock is an injectable, settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: testNow} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// seen is one request as the fake authorization server received it.
type seen struct {
	Method, Path, ContentType, Accept string
	Authorization                     string
	Form                              url.Values
}

// fakeAS is an httptest authorization server whose answer tests set.
type fakeAS struct {
	srv   *httptest.Server
	calls atomic.Int64

	mu     sync.Mutex
	reqs   []seen
	answer func(w http.ResponseWriter, r *http.Request)
}

func newFakeAS(t testing.TB) *fakeAS {
	t.Helper()
	f := &fakeAS{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		f.mu.Lock()
		f.reqs = append(f.reqs, seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Accept"),
			r.Header.Get("Authorization"), form})
		answer := f.answer
		f.mu.Unlock()
		if answer == nil {
			writeJSON(w, 200, map[string]any{"active": false})
			return
		}
		answer(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAS) set(answer func(w http.ResponseWriter, r *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = answer
}

func (f *fakeAS) last(t testing.TB) seen {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("the fake authorization server received no request")
	}
	return f.reqs[len(f.reqs)-1]
}

// raw answers with a fixed status and body.
func raw(status int, body string, header ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// activeClaims is a Keycloak-shaped active answer for a token expiring in 5 min.
func activeClaims() map[string]any {
	return map[string]any{
		"active": true, "exp": testUnixTime + 300, "iat": testUnixTime - 60, "auth_time": testUnixTime - 60,
		"jti": "onrtac:3f1c", "iss": testIssuer, "aud": []string{"backend", "account"}, "sub": "u-alice",
		"typ": "Bearer", "azp": "mobile", "sid": "s-1", "acr": "1", "allowed-origins": []string{"capacitor://localhost"},
		"realm_access":    map[string]any{"roles": []string{"user"}},
		"resource_access": map[string]any{"backend": map[string]any{"roles": []string{"reader"}}},
		"scope":           "openid profile email", "email_verified": true, "preferred_username": "alice",
		"email": "alice@example.com", "client_id": "mobile", "username": "alice", "token_type": "Bearer",
	}
}

func activeJSON(mod func(m map[string]any)) string {
	m := activeClaims()
	if mod != nil {
		mod(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// newClient returns a Client for the fake with the test clock.
func newClient(t testing.TB, f *fakeAS, mod func(*introspect.Config)) *introspect.Client {
	t.Helper()
	cfg := introspect.Config{
		IntrospectionURL: f.srv.URL + introPath,
		RevocationURL:    f.srv.URL + revokePath,
		ClientID:         testClient,
		ClientSecret:     testSecret,
		Issuer:           testIssuer,
		Now:              newClock().Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := introspect.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}
