package adapter

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/introspect"
	"github.com/tokenwarden/tokenwarden/oidc"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// fakeRevoker records revocations; errs by token.
type fakeRevoker struct {
	mu      sync.Mutex
	revoked []string
	errs    map[string]error
}

func (f *fakeRevoker) Revoke(_ context.Context, token, hint string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs[token]; err != nil {
		return err
	}
	f.revoked = append(f.revoked, hint+":"+token)
	return nil
}

func logoutRequest(access, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/logout", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if access != "" {
		r.Header.Set("Authorization", "Bearer "+access)
	}
	return r
}

func TestLogoutHandler(t *testing.T) {
	unavailable := &introspect.Error{Endpoint: introspect.EndpointRevocation, Status: 503}
	unmatching := &introspect.Error{Endpoint: introspect.EndpointRevocation, Status: 400, Code: "invalid_request"}
	tests := []struct {
		name        string
		req         *http.Request
		mod         func(*env, *fakeRevoker, *Config)
		want        int
		wantRevoked []string
		wantDenied  bool
		wantSession bool
	}{
		{name: "logout", req: logoutRequest("good", "refresh_token=rt1"), want: 204,
			wantRevoked: []string{"refresh_token:rt1", "access_token:good"}, wantDenied: true},
		{name: "logout with session", req: logoutRequest("good", "refresh_token=rt1"), want: 204,
			mod:         func(_ *env, _ *fakeRevoker, c *Config) { c.Logout.RevokeSession = true },
			wantRevoked: []string{"refresh_token:rt1", "access_token:good"}, wantDenied: true, wantSession: true},
		{name: "access token revocation skipped", req: logoutRequest("good", "refresh_token=rt1"), want: 204,
			mod:         func(_ *env, _ *fakeRevoker, c *Config) { c.Logout.SkipAccessTokenRevocation = true },
			wantRevoked: []string{"refresh_token:rt1"}, wantDenied: true},
		{name: "already revoked access token still logs out", req: logoutRequest("good", "refresh_token=rt1"), want: 204,
			mod: func(e *env, _ *fakeRevoker, _ *Config) {
				e.s.jtis["https://kc.example/realms/tw jti-good"] = true
			},
			wantRevoked: []string{"refresh_token:rt1", "access_token:good"}, wantDenied: true},
		{name: "no access token", req: logoutRequest("", "refresh_token=rt1"), want: 401},
		{name: "invalid access token", req: logoutRequest("forged", "refresh_token=rt1"), want: 401},
		{name: "expired access token", req: logoutRequest("expired", "refresh_token=rt1"), want: 401},
		{name: "no refresh token", req: logoutRequest("good", "x=1"), want: 400},
		{name: "refresh token twice", req: logoutRequest("good", "refresh_token=a&refresh_token=b"), want: 400},
		{name: "json body", req: func() *http.Request {
			r := logoutRequest("good", `{"refresh_token":"rt1"}`)
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), want: 400},
		{name: "GET", req: httptest.NewRequest(http.MethodGet, "/logout", nil), want: 405},
		{name: "client without revoker", req: logoutRequest("good", "refresh_token=rt1"), want: 400,
			mod: func(_ *env, _ *fakeRevoker, c *Config) {
				c.Revokers = map[string]Revoker{"other": &fakeRevoker{}}
			}},
		{name: "store down", req: logoutRequest("good", "refresh_token=rt1"), want: 503,
			mod: func(e *env, _ *fakeRevoker, _ *Config) { e.s.failWrite = revocation.ErrUnavailable }},
		{name: "keycloak down for refresh token", req: logoutRequest("good", "refresh_token=rt1"), want: 503,
			mod: func(_ *env, rv *fakeRevoker, _ *Config) {
				rv.errs = map[string]error{"rt1": unavailable}
			}, wantDenied: true},
		{name: "keycloak refuses refresh token", req: logoutRequest("good", "refresh_token=rt1"), want: 400,
			mod: func(_ *env, rv *fakeRevoker, _ *Config) {
				rv.errs = map[string]error{"rt1": unmatching}
			}, wantDenied: true},
		{name: "keycloak down for access token, best effort", req: logoutRequest("good", "refresh_token=rt1"), want: 204,
			mod: func(_ *env, rv *fakeRevoker, _ *Config) {
				rv.errs = map[string]error{"good": unavailable}
			}, wantRevoked: []string{"refresh_token:rt1"}, wantDenied: true},
		{name: "keycloak down for access token, required", req: logoutRequest("good", "refresh_token=rt1"), want: 503,
			mod: func(_ *env, rv *fakeRevoker, c *Config) {
				rv.errs = map[string]error{"good": unavailable}
				c.Logout.RequireAccessTokenRevocation = true
			}, wantRevoked: []string{"refresh_token:rt1"}, wantDenied: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv()
			rv := &fakeRevoker{}
			cfg := Config{Verifier: e.v, Store: e.s, Revokers: map[string]Revoker{"mobile": rv},
				Introspector: e.in, Now: func() time.Time { return t0 }}
			if tt.mod != nil {
				tt.mod(e, rv, &cfg)
			}
			a, err := New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			h := a.LogoutHandler()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tt.req)
			if rec.Code != tt.want {
				t.Fatalf("status = %d, want %d; body %q", rec.Code, tt.want, rec.Body)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Fatalf("Cache-Control = %q", cc)
			}
			if tt.want == 503 && rec.Header().Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			if got := strings.Join(rv.revoked, " "); got != strings.Join(tt.wantRevoked, " ") {
				t.Fatalf("revoked upstream %q, want %q", got, tt.wantRevoked)
			}
			denied := e.s.Check(tokenOf(testClaims("jti-good"))) == revocation.TokenMatch
			if denied != tt.wantDenied {
				t.Fatalf("deny-listed = %v, want %v", denied, tt.wantDenied)
			}
			if got := e.s.sids["https://kc.example/realms/tw sid-1"]; got != tt.wantSession {
				t.Fatalf("session revoked = %v", got)
			}
			if tt.want == 204 && (len(e.v.forgot) != 1 || len(e.in.forgot) != 1) {
				t.Fatalf("caches not evicted: %d %d", len(e.v.forgot), len(e.in.forgot))
			}
		})
	}
}

func TestLogoutIdempotent(t *testing.T) {
	e := newEnv()
	rv := &fakeRevoker{}
	a, err := New(context.Background(), Config{Verifier: e.v, Store: e.s, Revokers: map[string]Revoker{"mobile": rv}})
	if err != nil {
		t.Fatal(err)
	}
	h := a.LogoutHandler()
	for i := range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, logoutRequest("good", "refresh_token=rt1"))
		if rec.Code != 204 {
			t.Fatalf("call %d: %d", i, rec.Code)
		}
	}
	// And the middleware refuses the token afterwards.
	check(t, serve(t, e.config(), bearer("good")), wantResp{status: 401, code: codeInvalidToken})
}

// logoutVerifier verifies access tokens and logout tokens.
type logoutVerifier struct {
	*fakeVerifier
	fakeLogoutVerifier
}

// adminVerifier verifies access tokens and Keycloak admin messages.
type adminVerifier struct {
	*fakeVerifier
	fakeAdminVerifier
}

// fakeLogoutVerifier answers from a map.
type fakeLogoutVerifier map[string]*oidc.LogoutClaims

func (f fakeLogoutVerifier) VerifyLogoutToken(_ context.Context, raw string) (*oidc.LogoutClaims, error) {
	switch raw {
	case "jwksdown":
		return nil, &oidc.ValidationError{Kind: oidc.ErrUnknownKey, Cause: errBoom}
	}
	if c, ok := f[raw]; ok {
		return c, nil
	}
	return nil, &oidc.ValidationError{Kind: oidc.ErrBadSignature}
}

func backchannelRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/backchannel-logout", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestBackchannelLogout(t *testing.T) {
	iss := "https://kc.example/realms/tw"
	lv := fakeLogoutVerifier{
		"withsid": {Issuer: iss, Subject: "user-1", SessionID: "sid-1", ID: "lt-1", IssuedAt: t0, Expiry: t0.Add(2 * time.Minute)},
		"subonly": {Issuer: iss, Subject: "user-1", ID: "lt-2", IssuedAt: t0, Expiry: t0.Add(2 * time.Minute)},
	}
	tests := []struct {
		name        string
		reqs        []*http.Request
		failStore   bool
		want        []int
		wantCode    string
		wantSession bool
		wantSubject bool
	}{
		{name: "session", reqs: []*http.Request{backchannelRequest("logout_token=withsid")}, want: []int{200}, wantSession: true},
		{name: "subject", reqs: []*http.Request{backchannelRequest("logout_token=subonly")}, want: []int{200}, wantSubject: true},
		{name: "replay", reqs: []*http.Request{backchannelRequest("logout_token=withsid"), backchannelRequest("logout_token=withsid")},
			want: []int{200, 400}, wantCode: "invalid_request", wantSession: true},
		{name: "invalid token", reqs: []*http.Request{backchannelRequest("logout_token=forged")}, want: []int{400}, wantCode: "invalid_request"},
		{name: "missing token", reqs: []*http.Request{backchannelRequest("x=1")}, want: []int{400}, wantCode: "invalid_request"},
		{name: "duplicate token", reqs: []*http.Request{backchannelRequest("logout_token=withsid&logout_token=withsid")}, want: []int{400}, wantCode: "invalid_request"},
		{name: "GET", reqs: []*http.Request{httptest.NewRequest(http.MethodGet, "/backchannel-logout", nil)}, want: []int{405}},
		{name: "not a form", reqs: []*http.Request{func() *http.Request {
			r := backchannelRequest("logout_token=withsid")
			r.Header.Set("Content-Type", "text/plain")
			return r
		}()}, want: []int{400}, wantCode: "invalid_request"},
		{name: "oversized", reqs: []*http.Request{backchannelRequest("logout_token=" + strings.Repeat("a", 20<<10))}, want: []int{400}},
		{name: "keys unavailable", reqs: []*http.Request{backchannelRequest("logout_token=jwksdown")}, want: []int{503}, wantCode: codeTemporarilyUnavailable},
		{name: "store down", reqs: []*http.Request{backchannelRequest("logout_token=withsid")}, failStore: true,
			want: []int{503}, wantCode: codeTemporarilyUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeStore()
			if tt.failStore {
				s.failWrite = revocation.ErrUnavailable
			}
			a, err := New(context.Background(), Config{Verifier: logoutVerifier{newFakeVerifier(), lv}, Store: s,
				Now: func() time.Time { return t0 }})
			if err != nil {
				t.Fatal(err)
			}
			h := a.BackchannelLogoutHandler()
			var rec *httptest.ResponseRecorder
			for i, r := range tt.reqs {
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if rec.Code != tt.want[i] {
					t.Fatalf("request %d: status %d, want %d (%q)", i, rec.Code, tt.want[i], rec.Body)
				}
				if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
					t.Fatalf("Cache-Control = %q", cc)
				}
			}
			if tt.wantCode != "" {
				var body struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != tt.wantCode {
					t.Fatalf("body %q, want error %q", rec.Body, tt.wantCode)
				}
			}
			if got := s.sids[iss+" sid-1"]; got != tt.wantSession {
				t.Fatalf("session revoked = %v", got)
			}
			nb, ok := s.subNB[iss+" user-1"]
			if ok != tt.wantSubject {
				t.Fatalf("subject revoked = %v", ok)
			}
			if ok && !nb.Equal(t0.Add(time.Second)) {
				t.Fatalf("subject not-before = %v, want iat+1s", nb)
			}
			if tt.failStore && len(s.seen) != 0 {
				t.Fatal("jti recorded although the revocation failed")
			}
		})
	}
}

// fakeAdminVerifier answers from a map.
type fakeAdminVerifier map[string]*oidc.AdminAction

func (f fakeAdminVerifier) VerifyAdminAction(_ context.Context, body string) (*oidc.AdminAction, error) {
	if a, ok := f[body]; ok {
		return a, nil
	}
	if body == "expired" {
		return nil, &oidc.ValidationError{Kind: oidc.ErrExpired}
	}
	return nil, &oidc.ValidationError{Kind: oidc.ErrBadSignature}
}

func (f fakeAdminVerifier) Issuer() string { return "https://kc.example/realms/tw" }

func TestKeycloakAdminHandler(t *testing.T) {
	iss := "https://kc.example/realms/tw"
	exp := t0.Add(30 * time.Second)
	av := fakeAdminVerifier{
		"push":     {ID: "a1", Action: oidc.AdminActionPushNotBefore, Resource: "backend", Expiration: exp, NotBefore: t0.Add(-10 * time.Second)},
		"push0":    {ID: "a2", Action: oidc.AdminActionPushNotBefore, Resource: "backend", Expiration: exp},
		"logout":   {ID: "a3", Action: oidc.AdminActionLogout, Resource: "backend", Expiration: exp, KeycloakSessionIDs: []string{"sid-1", "sid-2"}},
		"logall":   {ID: "a4", Action: oidc.AdminActionLogout, Resource: "backend", Expiration: exp},
		"test":     {ID: "a5", Action: oidc.AdminActionTestAvailable, Resource: "backend", Expiration: exp},
		"logallnb": {ID: "a7", Action: oidc.AdminActionLogout, Resource: "backend", Expiration: exp, NotBefore: t0.Add(-3 * time.Second)},
		"noid":     {Action: oidc.AdminActionLogout, Resource: "backend", Expiration: exp, KeycloakSessionIDs: []string{"sid-4"}},
		"pushnoid": {Action: oidc.AdminActionPushNotBefore, Resource: "backend", Expiration: exp, NotBefore: t0},
		"logoutnb": {ID: "a6", Action: oidc.AdminActionLogout, Resource: "backend", Expiration: exp, NotBefore: t0.Add(-5 * time.Second), KeycloakSessionIDs: []string{"sid-3"}},
	}
	tests := []struct {
		name      string
		path      string
		bodies    []string
		failStore bool
		want      []int
		wantNB    time.Time
		wantSids  []string
	}{
		{name: "push not-before", path: "/kc/k_push_not_before", bodies: []string{"push"}, want: []int{200}, wantNB: t0.Add(-10 * time.Second)},
		{name: "push zero not-before", path: "/kc/k_push_not_before", bodies: []string{"push0"}, want: []int{200}},
		{name: "logout sessions", path: "/kc/k_logout", bodies: []string{"logout"}, want: []int{200}, wantSids: []string{"sid-1", "sid-2"}},
		{name: "logout sessions with not-before", path: "/kc/k_logout", bodies: []string{"logoutnb"}, want: []int{200},
			wantSids: []string{"sid-3"}, wantNB: t0.Add(-5 * time.Second)},
		{name: "logout all, no time: now in whole seconds", path: "/kc/k_logout", bodies: []string{"logall"}, want: []int{200}, wantNB: t0},
		{name: "logout all with the realm not-before", path: "/kc/k_logout", bodies: []string{"logallnb"}, want: []int{200}, wantNB: t0.Add(-3 * time.Second)},
		{name: "test available", path: "/kc/k_test_available", bodies: []string{"test"}, want: []int{200}},
		{name: "action does not match endpoint", path: "/kc/k_logout", bodies: []string{"push"}, want: []int{400}},
		{name: "bad signature", path: "/kc/k_push_not_before", bodies: []string{"forged"}, want: []int{400}},
		{name: "expired", path: "/kc/k_push_not_before", bodies: []string{"expired"}, want: []int{400}},
		{name: "replay", path: "/kc/k_push_not_before", bodies: []string{"push", "push"}, want: []int{200, 400}, wantNB: t0.Add(-10 * time.Second)},
		{name: "logout without id", path: "/kc/k_logout", bodies: []string{"noid"}, want: []int{400}},
		{name: "push without id", path: "/kc/k_push_not_before", bodies: []string{"pushnoid"}, want: []int{400}},
		{name: "unknown endpoint", path: "/kc/k_other", bodies: []string{"push"}, want: []int{404}},
		{name: "oversized", path: "/kc/k_push_not_before", bodies: []string{strings.Repeat("a", 20<<10)}, want: []int{400}},
		{name: "store down", path: "/kc/k_push_not_before", bodies: []string{"push"}, failStore: true, want: []int{503}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeStore()
			if tt.failStore {
				s.failWrite = revocation.ErrUnavailable
			}
			a, err := New(context.Background(), Config{Verifier: adminVerifier{newFakeVerifier(), av}, Store: s,
				Now: func() time.Time { return t0.Add(700 * time.Millisecond) }})
			if err != nil {
				t.Fatal(err)
			}
			h := a.KeycloakAdminHandler()
			for i, b := range tt.bodies {
				r := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(b))
				r.Header.Set("Content-Type", "text/plain")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if rec.Code != tt.want[i] {
					t.Fatalf("request %d: status %d, want %d (%q)", i, rec.Code, tt.want[i], rec.Body)
				}
			}
			if got := s.issNB[iss]; !got.Equal(tt.wantNB) {
				t.Fatalf("issuer not-before = %v, want %v", got, tt.wantNB)
			}
			for _, sid := range tt.wantSids {
				if !s.sids[iss+" "+sid] {
					t.Fatalf("session %s not revoked", sid)
				}
			}
			if len(s.sids) != len(tt.wantSids) {
				t.Fatalf("sessions revoked: %v", s.sids)
			}
		})
	}
}

// A handler whose prerequisite is missing from Config answers 503 and logs,
// at error level, the field to set.
func TestHandlerPrerequisites(t *testing.T) {
	for name, tt := range map[string]struct {
		h     func(*Authenticator) http.Handler
		req   *http.Request
		field string
	}{
		"logout":       {(*Authenticator).LogoutHandler, logoutRequest("good", "refresh_token=rt1"), "Config.Revokers"},
		"back-channel": {(*Authenticator).BackchannelLogoutHandler, backchannelRequest("logout_token=withsid"), "Config.Verifier"},
		"admin": {(*Authenticator).KeycloakAdminHandler,
			httptest.NewRequest(http.MethodPost, "/kc/k_logout", strings.NewReader("x")), "Config.Verifier"},
	} {
		t.Run(name, func(t *testing.T) {
			var logs strings.Builder
			a, err := New(context.Background(), Config{Verifier: newFakeVerifier(), Store: newFakeStore(),
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			tt.h(a).ServeHTTP(rec, tt.req)
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
				t.Errorf("%d, want 503 with Retry-After", rec.Code)
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), tt.field) {
				t.Errorf("log %q does not name %s", logs.String(), tt.field)
			}
		})
	}
}
