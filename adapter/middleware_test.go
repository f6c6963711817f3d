package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/oidc"
)

var inactiveSentinel = introspect.ErrInactive

type env struct {
	v  *fakeVerifier
	s  *fakeStore
	in *fakeIntrospector
}

func newEnv() *env {
	e := &env{v: newFakeVerifier(), s: newFakeStore(), in: &fakeIntrospector{active: map[string]*oidc.Claims{}}}
	e.v.claims["good"] = testClaims("jti-good")
	e.in.active["good"] = testClaims("jti-good")
	e.v.claims["old"] = testClaims("jti-old")
	e.v.errs["expired"] = &oidc.ValidationError{Kind: oidc.ErrExpired}
	e.v.errs["wrongaud"] = &oidc.ValidationError{Kind: oidc.ErrWrongAudience}
	e.v.errs["unknownkid"] = &oidc.ValidationError{Kind: oidc.ErrUnknownKey}
	e.v.errs["jwksdown"] = &oidc.ValidationError{Kind: oidc.ErrUnknownKey, Cause: errBoom}
	e.v.errs["ctxdone"] = context.Canceled
	return e
}

func (e *env) config() Config {
	return Config{Verifier: e.v, Store: e.s, Introspector: e.in, Now: func() time.Time { return t0 }}
}

// okHandler answers 200 with the subject and realm roles from the context.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := FromContext(r.Context())
	if !ok {
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	w.Write([]byte(c.Subject + " " + strings.Join(c.RealmRoles, ",")))
})

func serve(t testing.TB, cfg Config, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	a, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rec := httptest.NewRecorder()
	a.Middleware(okHandler).ServeHTTP(rec, r)
	return rec
}

func bearer(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

type wantResp struct {
	status    int
	challenge string // exact WWW-Authenticate, "-" for none
	code      string // JSON error member
	body      string // exact body for 200
}

func check(t *testing.T, rec *httptest.ResponseRecorder, w wantResp) {
	t.Helper()
	if rec.Code != w.status {
		t.Fatalf("status = %d, want %d (body %q)", rec.Code, w.status, rec.Body)
	}
	got := rec.Header().Get("WWW-Authenticate")
	switch {
	case w.challenge == "-" && got != "":
		t.Fatalf("unexpected WWW-Authenticate %q", got)
	case w.challenge != "" && w.challenge != "-" && got != w.challenge:
		t.Fatalf("WWW-Authenticate = %q, want %q", got, w.challenge)
	}
	if w.status == http.StatusOK {
		if rec.Body.String() != w.body {
			t.Fatalf("body = %q, want %q", rec.Body, w.body)
		}
		return
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q", cc)
	}
	if w.status == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if w.code == "" {
		if rec.Body.Len() != 0 {
			t.Fatalf("body %q for a request without credentials", rec.Body)
		}
		return
	}
	var body struct {
		Error string `json:"error"`
		Desc  string `json:"error_description"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if body.Error != w.code {
		t.Fatalf("error = %q, want %q", body.Error, w.code)
	}
}

func TestRFC6750Matrix(t *testing.T) {
	const ok = "user-1 user"
	tests := []struct {
		name string
		req  func() *http.Request
		mod  func(*env, *Config)
		want wantResp
	}{
		{name: "valid", req: func() *http.Request { return bearer("good") },
			want: wantResp{status: 200, body: ok}},
		{name: "missing", req: func() *http.Request { return bearer("") },
			want: wantResp{status: 401, challenge: `Bearer realm="api"`}},
		{name: "other scheme counts as missing", req: func() *http.Request {
			r := bearer("")
			r.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
			return r
		}, want: wantResp{status: 401, challenge: `Bearer realm="api"`}},
		{name: "lowercase scheme", req: func() *http.Request {
			r := bearer("")
			r.Header.Set("Authorization", "bearer good")
			return r
		}, want: wantResp{status: 200, body: ok}},
		{name: "malformed", req: func() *http.Request {
			r := bearer("")
			r.Header.Set("Authorization", "Bearer good extra")
			return r
		}, want: wantResp{status: 400, code: codeInvalidRequest,
			challenge: `Bearer realm="api", error="invalid_request", error_description="malformed authorization"`}},
		{name: "two methods", req: func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader("access_token=good"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Authorization", "Bearer good")
			return r
		}, mod: func(_ *env, c *Config) { c.Extractor.AllowFormBody = true },
			want: wantResp{status: 400, code: codeInvalidRequest,
				challenge: `Bearer realm="api", error="invalid_request", error_description="token sent more than once"`}},
		{name: "form body token", req: func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader("access_token=good"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, mod: func(_ *env, c *Config) { c.Extractor.AllowFormBody = true },
			want: wantResp{status: 200, body: ok}},
		{name: "query token refused by default", req: func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/orders?access_token=good", nil)
		}, want: wantResp{status: 401, challenge: `Bearer realm="api"`}},
		{name: "oversized", req: func() *http.Request { return bearer(strings.Repeat("a", maxTokenBytes+1)) },
			want: wantResp{status: 401, code: codeInvalidToken,
				challenge: `Bearer realm="api", error="invalid_token", error_description="token too large"`}},
		{name: "expired", req: func() *http.Request { return bearer("expired") },
			want: wantResp{status: 401, code: codeInvalidToken,
				challenge: `Bearer realm="api", error="invalid_token", error_description="token expired"`}},
		{name: "bad signature", req: func() *http.Request { return bearer("forged") },
			want: wantResp{status: 401, code: codeInvalidToken,
				challenge: `Bearer realm="api", error="invalid_token", error_description="invalid token"`}},
		{name: "wrong audience", req: func() *http.Request { return bearer("wrongaud") },
			want: wantResp{status: 401, code: codeInvalidToken}},
		{name: "unknown kid", req: func() *http.Request { return bearer("unknownkid") },
			want: wantResp{status: 401, code: codeInvalidToken}},
		{name: "keys unavailable", req: func() *http.Request { return bearer("jwksdown") },
			want: wantResp{status: 503, code: codeTemporarilyUnavailable, challenge: "-"}},
		{name: "context ended", req: func() *http.Request { return bearer("ctxdone") },
			want: wantResp{status: 503, code: codeTemporarilyUnavailable, challenge: "-"}},
		{name: "revoked jti", req: func() *http.Request { return bearer("good") },
			mod: func(e *env, _ *Config) { e.s.jtis["https://kc.example/realms/tw jti-good"] = true },
			want: wantResp{status: 401, code: codeInvalidToken,
				challenge: `Bearer realm="api", error="invalid_token", error_description="token revoked"`}},
		{name: "revoked session", req: func() *http.Request { return bearer("good") },
			mod:  func(e *env, _ *Config) { e.s.sids["https://kc.example/realms/tw sid-1"] = true },
			want: wantResp{status: 401, code: codeInvalidToken}},
		{name: "subject not-before", req: func() *http.Request { return bearer("good") },
			mod:  func(e *env, _ *Config) { e.s.subNB["https://kc.example/realms/tw user-1"] = t0 },
			want: wantResp{status: 401, code: codeInvalidToken}},
		{name: "insufficient scope", req: func() *http.Request { return bearer("good") },
			mod: func(_ *env, c *Config) { c.Require = []Requirement{RequireScope("orders:write")} },
			want: wantResp{status: 403, code: codeInsufficientScope,
				challenge: `Bearer realm="api", error="insufficient_scope", error_description="scope required", scope="orders:write"`}},
		{name: "scope present", req: func() *http.Request { return bearer("good") },
			mod:  func(_ *env, c *Config) { c.Require = []Requirement{RequireScope("orders:read")} },
			want: wantResp{status: 200, body: ok}},
		{name: "missing realm role", req: func() *http.Request { return bearer("good") },
			mod:  func(_ *env, c *Config) { c.Require = []Requirement{RequireRealmRole("admin")} },
			want: wantResp{status: 403, code: codeInsufficientScope}},
		{name: "custom realm", req: func() *http.Request { return bearer("") },
			mod:  func(_ *env, c *Config) { c.Realm = `orders "api"` },
			want: wantResp{status: 401, challenge: `Bearer realm="orders ?api?"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv()
			cfg := e.config()
			if tt.mod != nil {
				tt.mod(e, &cfg)
			}
			check(t, serve(t, cfg, tt.req()), tt.want)
			if e.in.calls != 0 {
				t.Fatalf("introspected %d times with the default policy", e.in.calls)
			}
		})
	}
}

func TestIntrospectionPolicy(t *testing.T) {
	tests := []struct {
		name      string
		policy    IntrospectionPolicy
		path      string
		wantCalls int
	}{
		{name: "never", wantCalls: 0},
		{name: "always", policy: IntrospectionPolicy{Always: true}, wantCalls: 1},
		{name: "route match", policy: IntrospectionPolicy{Route: func(r *http.Request) bool {
			return strings.HasPrefix(r.URL.Path, "/admin/")
		}}, path: "/admin/x", wantCalls: 1},
		{name: "route no match", policy: IntrospectionPolicy{Route: func(r *http.Request) bool {
			return strings.HasPrefix(r.URL.Path, "/admin/")
		}}, path: "/orders", wantCalls: 0},
		{name: "older than, old token", policy: IntrospectionPolicy{OlderThan: 30 * time.Second}, wantCalls: 1},
		{name: "older than, young token", policy: IntrospectionPolicy{OlderThan: 2 * time.Minute}, wantCalls: 0},
		{name: "lightweight, full token", policy: IntrospectionPolicy{When: Lightweight}, wantCalls: 0},
		{name: "missing claim absent", policy: IntrospectionPolicy{When: MissingClaim("acr")}, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv()
			cfg := e.config()
			cfg.Policy = tt.policy
			r := bearer("good")
			if tt.path != "" {
				r.URL.Path = tt.path
			}
			check(t, serve(t, cfg, r), wantResp{status: 200, body: "user-1 user"})
			if e.in.calls != tt.wantCalls {
				t.Fatalf("introspection calls = %d, want %d", e.in.calls, tt.wantCalls)
			}
		})
	}
}

func TestIntrospectionLightweightRolesFromIntrospection(t *testing.T) {
	e := newEnv()
	light := testClaims("jti-light")
	light.RealmRoles, light.ClientRoles, light.Scope = nil, nil, ""
	e.v.claims["light"] = light
	e.in.active["light"] = testClaims("jti-light")
	cfg := e.config()
	cfg.Policy.When = Lightweight
	cfg.Require = []Requirement{RequireClientRole("backend", "reader")}
	check(t, serve(t, cfg, bearer("light")), wantResp{status: 200, body: "user-1 user"})
	if e.in.calls != 1 {
		t.Fatalf("calls = %d", e.in.calls)
	}
}

func TestIntrospectionMismatch(t *testing.T) {
	e := newEnv()
	other := testClaims("jti-good")
	other.Subject = "someone-else"
	e.in.active["good"] = other
	cfg := e.config()
	cfg.Policy.Always = true
	check(t, serve(t, cfg, bearer("good")), wantResp{status: 401, code: codeInvalidToken})
}

func TestIntrospectionInactiveDenyLists(t *testing.T) {
	e := newEnv()
	delete(e.in.active, "good")
	cfg := e.config()
	cfg.Policy.Route = func(r *http.Request) bool { return r.URL.Path == "/sensitive" }
	r := bearer("good")
	r.URL.Path = "/sensitive"
	check(t, serve(t, cfg, r), wantResp{status: 401, code: codeInvalidToken,
		challenge: `Bearer realm="api", error="invalid_token", error_description="token revoked"`})
	if !e.s.jtis["https://kc.example/realms/tw jti-good"] {
		t.Fatal("inactive token not deny-listed")
	}
	// The introspector's negative entry stays: it answers should the
	// deny-list have failed.
	if len(e.in.forgot) != 0 {
		t.Fatalf("the introspector forgot the inactive token %d times", len(e.in.forgot))
	}
	// A route without introspection now refuses it too, from the deny-list.
	check(t, serve(t, cfg, bearer("good")), wantResp{status: 401, code: codeInvalidToken})
	if e.in.calls != 1 {
		t.Fatalf("calls = %d, want 1", e.in.calls)
	}
}

func TestOutages(t *testing.T) {
	tests := []struct {
		name      string
		mod       func(*env, *Config)
		want      int
		wantCalls int
	}{
		{name: "introspection down, reject", want: 503, wantCalls: 1, mod: func(e *env, c *Config) {
			c.Policy.Always = true
			e.in.err = introspect.ErrUnavailable
		}},
		{name: "introspection invalid response, reject", want: 503, wantCalls: 1, mod: func(e *env, c *Config) {
			c.Policy.Always = true
			e.in.err = introspect.ErrInvalidResponse
		}},
		{name: "introspection 5xx error, reject", want: 503, wantCalls: 1, mod: func(e *env, c *Config) {
			c.Policy.Always = true
			e.in.err = &introspect.Error{Endpoint: introspect.EndpointIntrospection, Status: 502}
		}},
		{name: "introspection down, unsafe allow", want: 200, wantCalls: 1, mod: func(e *env, c *Config) {
			c.Policy.Always = true
			c.Policy.UnsafeAllowOnOutage = true
			e.in.err = introspect.ErrUnavailable
		}},
		{name: "policy fires without introspector", want: 503, mod: func(e *env, c *Config) {
			c.Policy.Always = true
			c.Introspector = nil
		}},
		{name: "store degraded, introspects", want: 200, wantCalls: 1, mod: func(e *env, c *Config) {
			e.s.degraded = true
		}},
		{name: "store degraded, introspection down", want: 503, wantCalls: 1, mod: func(e *env, c *Config) {
			e.s.degraded = true
			e.in.err = introspect.ErrUnavailable
		}},
		{name: "store degraded, introspection down, unsafe allow does not apply", want: 503, wantCalls: 1, mod: func(e *env, c *Config) {
			e.s.degraded = true
			c.Policy.UnsafeAllowOnOutage = true
			e.in.err = introspect.ErrUnavailable
		}},
		{name: "store degraded, no introspector", want: 503, mod: func(e *env, c *Config) {
			e.s.degraded = true
			c.Introspector = nil
		}},
		{name: "store degraded, trusted unsafely", want: 200, mod: func(e *env, c *Config) {
			e.s.degraded = true
			c.Policy.UnsafeTrustDegradedStore = true
		}},
		{name: "store degraded, inactive", want: 401, wantCalls: 1, mod: func(e *env, c *Config) {
			e.s.degraded = true
			delete(e.in.active, "good")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv()
			cfg := e.config()
			tt.mod(e, &cfg)
			rec := serve(t, cfg, bearer("good"))
			w := wantResp{status: tt.want, body: "user-1 user"}
			switch tt.want {
			case 503:
				w.code, w.challenge = codeTemporarilyUnavailable, "-"
			case 401:
				w.code = codeInvalidToken
			}
			check(t, rec, w)
			if e.in.calls != tt.wantCalls {
				t.Fatalf("introspection calls = %d, want %d", e.in.calls, tt.wantCalls)
			}
		})
	}
}

func TestIntrospectedWrapper(t *testing.T) {
	e := newEnv()
	a, err := New(context.Background(), e.config())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/plain", a.Middleware(okHandler))
	mux.Handle("/strict", a.Introspected(okHandler))
	for _, p := range []string{"/plain", "/strict"} {
		rec := httptest.NewRecorder()
		r := bearer("good")
		r.URL.Path = p
		mux.ServeHTTP(rec, r)
		if rec.Code != 200 {
			t.Fatalf("%s: %d", p, rec.Code)
		}
	}
	if e.in.calls != 1 {
		t.Fatalf("introspection calls = %d, want 1 (only /strict)", e.in.calls)
	}
}

func TestNewConfigErrors(t *testing.T) {
	e := newEnv()
	for name, cfg := range map[string]Config{
		"neither verifier nor issuer": {Store: e.s},
		"issuer without audience":     {Issuer: "https://kc.example/realms/tw", Store: e.s},
	} {
		if _, err := New(context.Background(), cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// New with no store makes a private Memory store (on the real clock, so
	// the revocation below must outlive the real now) and closes it.
	a, err := New(context.Background(), Config{Verifier: e.v})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store().RevokeToken(context.Background(), "https://kc.example/realms/tw", "jti-good", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	a.Middleware(okHandler).ServeHTTP(rec, bearer("good"))
	if rec.Code != 401 {
		t.Fatalf("private store not consulted: %d", rec.Code)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

type countMetrics struct {
	nopMetrics
	decisions map[string]int
	dropped   int
}

func (m *countMetrics) Decision(o Outcome, r Reason) { m.decisions[string(o)+"/"+string(r)]++ }
func (m *countMetrics) AuditDropped()                { m.dropped++ }

func TestMetricsAndAudit(t *testing.T) {
	e := newEnv()
	e.s.jtis["https://kc.example/realms/tw jti-good"] = true
	m := &countMetrics{decisions: map[string]int{}}
	var events []AuditEvent
	cfg := e.config()
	cfg.Metrics = m
	cfg.AuditRate, cfg.AuditBurst = 1, 2
	cfg.Audit = func(_ context.Context, ev AuditEvent) { events = append(events, ev) }
	a, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := a.Middleware(okHandler)
	for range 3 {
		h.ServeHTTP(httptest.NewRecorder(), bearer("good"))
	}
	h.ServeHTTP(httptest.NewRecorder(), bearer("forged"))
	h.ServeHTTP(httptest.NewRecorder(), bearer("old"))
	if got := m.decisions["deny/revoked"]; got != 3 {
		t.Fatalf("deny/revoked = %d", got)
	}
	if m.decisions["deny/invalid_token"] != 1 || m.decisions["allow/ok"] != 1 {
		t.Fatalf("decisions = %v", m.decisions)
	}
	// The clock stands still: a burst of 2, the rest dropped.
	if len(events) != 2 || m.dropped != 2 {
		t.Fatalf("events = %d, dropped = %d", len(events), m.dropped)
	}
	ev := events[0]
	if ev.Kind != AuditRevokedTokenPresented || ev.Subject != "user-1" || ev.TokenID != "jti-good" || ev.Path != "/orders" ||
		ev.Detail != "token_revoked" {
		t.Fatalf("event = %+v", ev)
	}
}

// With *oidc.Verifier the b64token alphabet is checked only after a failed
// verification: the answers must be the same as with the full check.
func TestStrictVerifierDeferredCharset(t *testing.T) {
	cfg := Config{Verifier: realVerifier(t), Store: newFakeStore()}
	a, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !a.strictJWS {
		t.Fatal("oidc.Verifier not recognised as strict")
	}
	tests := []struct {
		header string
		want   wantResp
	}{
		{"Bearer a b", wantResp{status: 400, code: codeInvalidRequest}},
		{"Bearer a,b", wantResp{status: 400, code: codeInvalidRequest}},
		{"Bearer a\"b", wantResp{status: 400, code: codeInvalidRequest}},
		{"Bearer aé.b.c", wantResp{status: 400, code: codeInvalidRequest}},
		{"Bearer ", wantResp{status: 400, code: codeInvalidRequest}},
		{"Bearer a.b.c", wantResp{status: 401, code: codeInvalidToken}},
		{"Bearer " + strings.Repeat("a", maxTokenBytes+1), wantResp{status: 401, code: codeInvalidToken}},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			r := bearer("")
			r.Header.Set("Authorization", tt.header)
			check(t, serve(t, cfg, r), tt.want)
		})
	}
}

type countHandler struct {
	slog.Handler
	n *int
}

func (h countHandler) Handle(context.Context, slog.Record) error { *h.n++; return nil }
func (h countHandler) Enabled(context.Context, slog.Level) bool  { return true }

// An outage touches every request; it is logged once a second, and never
// with the token.
func TestOutageLogLimited(t *testing.T) {
	e := newEnv()
	n := 0
	cfg := e.config()
	cfg.Logger = slog.New(countHandler{n: &n})
	now := t0
	cfg.Now = func() time.Time { return now }
	a, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := a.Middleware(okHandler)
	for range 5 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, bearer("jwksdown"))
		if rec.Code != 503 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	now = now.Add(2 * time.Second)
	h.ServeHTTP(httptest.NewRecorder(), bearer("jwksdown"))
	if n != 2 {
		t.Fatalf("%d log lines, want 2", n)
	}
}
